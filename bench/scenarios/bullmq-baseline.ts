// A scenario process (see support/scenario-process.ts): the same work as the engine scenario
// done by a plain BullMQ program, no engine and no Postgres: three chained no-op jobs per "saga",
// each job's processor adding the next job, at the same worker concurrency.
import { Queue, Worker, type ConnectionOptions, type JobsOptions } from 'bullmq';
import { NOOP_STEPS } from '../noop.saga.js';
import { ClientCounters } from '../support/client-counters.js';
import { MeasuredRuns } from '../support/measured-runs.js';
import { distribution } from '../support/percentiles.js';
import { scenarioChild } from '../support/scenario-process.js';
import { TransitionClock } from '../support/transition-clock.js';
import {
  cpuClock,
  memoryNow,
  throughputResult,
  type ThroughputOptions,
  type ThroughputResult,
} from './throughput-result.js';

const QUEUE = 'baseline-steps';
/** What a well-configured program that keeps no job history would set; the engine sets the same. */
const JOB_OPTIONS: JobsOptions = { removeOnComplete: true, removeOnFail: true };

interface StepJob {
  saga: string;
}

scenarioChild.run(async (): Promise<ThroughputResult> => {
  const options = scenarioChild.options<ThroughputOptions>();
  const counters = new ClientCounters().countRedis();
  const connection = connectionOptions(options.redisUrl);
  const queue = new Queue<StepJob>(QUEUE, { connection, prefix: options.queuePrefix });
  const clock = new TransitionClock(NOOP_STEPS);

  // The job's name is its step number; the processor adds the next step before it returns.
  const worker = new Worker<StepJob>(
    QUEUE,
    async (job) => {
      const step = Number(job.name);
      clock.run(job.data.saga, step, () => undefined);
      if (step + 1 < NOOP_STEPS) await queue.add(String(step + 1), job.data, JOB_OPTIONS);
    },
    { connection, prefix: options.queuePrefix, concurrency: options.concurrency, autorun: false },
  );
  worker.on('error', (error) => console.error(`baseline worker: ${error.message}`));
  await Promise.all([queue.waitUntilReady(), worker.waitUntilReady()]);

  // Done means BullMQ moved the last job to completed, as done means recorded for the engine.
  let completed = 0;
  let lastCompletedAt = 0;
  const waiting: { count: number; resolve: () => void }[] = [];
  const completedAtLeast = (count: number) =>
    completed >= count ? Promise.resolve() : new Promise<void>((resolve) => waiting.push({ count, resolve }));
  worker.on('completed', (job) => {
    if (Number(job.name) !== NOOP_STEPS - 1) return;
    lastCompletedAt = Date.now();
    completed++;
    for (const w of waiting.filter((w) => completed >= w.count)) w.resolve();
  });

  let index = 0;
  const start = () => queue.add('0', { saga: `saga-${index++}` }, JOB_OPTIONS);
  const runs = new MeasuredRuns(clock, options, start, (done) => scenarioChild.progress(done));
  void worker.run();
  await runs.warmUp(() => completedAtLeast(options.warmupSagas));

  counters.reset();
  const cpuMs = cpuClock();
  const startedAt = Date.now();
  await runs.measure();
  await completedAtLeast(options.warmupSagas + options.sagas);
  const client = counters.snapshot();
  const cpu = cpuMs();
  runs.stop();

  const memory = memoryNow();
  await worker.close();
  await queue.close();
  return throughputResult(
    options,
    { steps: NOOP_STEPS, handlers: NOOP_STEPS },
    {
      seconds: (lastCompletedAt - startedAt) / 1000,
      transitionMs: distribution(clock.transitionDelays()),
      repeatedHandlerCalls: clock.repeatedCalls,
      client,
      memory,
      cpuMs: cpu,
      unexpected: {},
    },
  );
});

function connectionOptions(redisUrl: string): ConnectionOptions {
  const url = new URL(redisUrl);
  return {
    host: url.hostname,
    port: Number(url.port || 6379),
    username: url.username || undefined,
    password: url.password ? decodeURIComponent(url.password) : undefined,
    db: Number(url.pathname.slice(1) || 0),
    tls: url.protocol === 'rediss:' ? {} : undefined,
  };
}
