import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Module } from '@nestjs/common';
import { Redis } from 'ioredis';
import { z } from 'zod';
import { LimitedQueues, type LimitedQueue } from '../../src/saga/execution/limited-queues.js';
import { SagaService } from '../../src/saga/execution/saga.service.js';
import { UNIT_JOB_OPTIONS, unitJobId } from '../../src/saga/execution/saga-queue.js';
import { SagaRegistry } from '../../src/saga/definition/saga-registry.js';
import { SagaStore } from '../../src/saga/store/saga.store.js';
import { Compensate, NonRetryableError, Saga, Step, type StepContext } from '../../src/saga/index.js';
import { SagaTestKit } from '../../src/saga/testing/index.js';
import { wipeRedisPrefix } from '../../src/saga/testing/redis-keys.js';
import { waitFor } from '../support/wait.js';

const Input = z.object({
  /** The first this many attempts of `call` fail (retryable), each retried after a minute. */
  failures: z.int().min(0).default(0),
  holdMs: z.int().min(0).default(0),
  /** `confirm` fails for good, so that `call` is compensated. */
  refuse: z.boolean().default(false),
});
type Input = z.infer<typeof Input>;

@Saga({ name: 'limited-kit', version: 1, input: Input })
class LimitedKitSaga {
  @Step({ concurrency: 2, retry: { attempts: 10, backoff: { type: 'fixed', delay: 60_000 } } })
  async call(ctx: StepContext<Input>) {
    if (ctx.attempt <= ctx.input.failures) throw new Error('provider busy');
    await sleep(ctx.input.holdMs, undefined, { signal: ctx.signal });
    return { attempt: ctx.attempt };
  }

  @Compensate('call', { rateLimit: { max: 1, durationMs: 100 } })
  undoCall() {
    return { undone: true };
  }

  @Step()
  confirm(ctx: StepContext<Input>) {
    if (ctx.input.refuse) throw new NonRetryableError('refused');
    return { confirmed: true };
  }
}

@Module({ providers: [LimitedKitSaga] })
class LimitedKitModule {}

/** Units of a limited handler travel on the handler's own queue, with everything else still working there. */
describe('limited handlers, in one process with the test kit', () => {
  let kit: SagaTestKit;
  let call: LimitedQueue;
  let redis: Redis;

  before(async () => {
    kit = await SagaTestKit.create({ imports: [LimitedKitModule] });
    const queues = kit.get(LimitedQueues).all();
    call = queues.find((q) => q.name === 'saga-units/limited-kit/call')!;
    redis = new Redis(kit.redisUrl);
  });
  after(async () => {
    redis?.disconnect();
    await kit?.close();
  });

  it('has a queue per limited handler, described for /metrics, with its concurrency in Redis', async () => {
    assert.deepEqual(
      kit
        .get(LimitedQueues)
        .all()
        .map(({ name, saga, step, phase, limits }) => ({ name, saga, step, phase, limits })),
      [
        {
          name: 'saga-units/limited-kit/call',
          saga: 'limited-kit',
          step: 'call',
          phase: 'step',
          limits: { concurrency: 2 },
        },
        {
          name: 'saga-units/limited-kit/undoCall',
          saga: 'limited-kit',
          step: 'call',
          phase: 'compensation',
          limits: { rateLimit: { max: 1, durationMs: 100 } },
        },
      ],
    );
    assert.equal(await redis.hget(`${kit.queuePrefix}:saga-units/limited-kit/call:meta`, 'concurrency'), '2');
    assert.equal(
      await redis.hget(`${kit.queuePrefix}:saga-units/limited-kit/undoCall:meta`, 'concurrency'),
      null,
    );
  });

  it('runs a limited step from its own queue, pending until a worker claims it there', async () => {
    const id = await kit.start('limited-kit', { holdMs: 1500 });
    const running = await waitFor(
      async () => {
        const view = await kit.view(id);
        return view.steps![0].status === 'running' ? view : undefined;
      },
      { what: 'call to run' },
    );
    assert.ok(running.steps![0].startedAt);
    const [onItsQueue, onShared] = await Promise.all([
      call.queue.getJobCounts('active'),
      kit.get(LimitedQueues).shared.getJobCounts('active', 'waiting', 'delayed'),
    ]);
    assert.equal(onItsQueue.active, 1);
    assert.deepEqual(onShared, { active: 0, waiting: 0, delayed: 0 });
    const done = await kit.waitForEnd(id);
    assert.equal(done.status, 'completed');
    assert.deepEqual(
      (await kit.events(id)).map((e) => [e.type, e.step ?? null]),
      [
        ['saga_started', null],
        ['step_started', 'call'],
        ['step_completed', 'call'],
        ['step_started', 'confirm'],
        ['step_completed', 'confirm'],
        ['saga_completed', null],
      ],
    );
  });

  it('moves a limited unit found on the shared queue (enqueued by a process without its version) to its own queue', async () => {
    // Recorded, and its job put on the shared queue, as a process that lacks the saga's version
    // (its reconciler, say) does: it cannot know that the handler is limited.
    const def = kit.get(SagaRegistry).findVersion('limited-kit', 1)!;
    const started = await kit.get(SagaStore).create(def, Input.parse({ holdMs: 1500 }), undefined);
    const [unit] = started.units;
    await kit
      .get(LimitedQueues)
      .shared.add(
        'unit',
        { ...unit, claimed: false },
        { ...UNIT_JOB_OPTIONS, jobId: unitJobId(unit.sagaId, unit.unit, unit.seq) },
      );
    await waitFor(async () => ((await call.queue.getJobCounts('active')).active === 1 ? true : undefined), {
      what: 'call to run from its own queue',
    });
    // The job is active before its claim commits: the step is running a moment later.
    await waitFor(
      async () => ((await kit.view(started.id)).steps![0].status === 'running' ? true : undefined),
      { what: 'call to be running' },
    );
    assert.equal((await kit.waitForEnd(started.id)).status, 'completed');
  });

  it('retries a limited step after its backoff (time skipped by the kit) and compensates on a limited queue', async () => {
    const id = await kit.start('limited-kit', { failures: 2, refuse: true });
    const saga = await kit.runToEnd(id);
    assert.equal(saga.status, 'compensated');
    const [step] = saga.steps!;
    assert.deepEqual(
      [step.status, step.attempts, step.compensation?.status],
      ['compensated', 3, 'completed'],
    );
  });

  it("a cancel removes the step's delayed retry from its queue", async () => {
    const id = await kit.start('limited-kit', { failures: 5 });
    await waitFor(async () => ((await call.queue.getDelayedCount()) === 1 ? true : undefined), {
      what: "call's retry delayed on its queue",
    });
    await kit.get(SagaService).cancel(id);
    const saga = await kit.waitForEnd(id);
    assert.equal(saga.status, 'compensated');
    assert.equal(saga.steps![0].status, 'failed');
    await waitFor(async () => ((await call.queue.getDelayedCount()) === 0 ? true : undefined), {
      what: 'the moot retry removed',
    });
  });

  it('after Redis lost its data, the concurrency is back and every unit on its queue', async () => {
    const ids = await Promise.all([1, 2, 3].map(() => kit.start('limited-kit', { holdMs: 300 })));
    await waitFor(async () => ((await call.queue.getJobCounts('active')).active > 0 ? true : undefined), {
      what: 'call to run',
    });
    assert.ok((await wipeRedisPrefix(redis, kit.queuePrefix)) > 0);
    const ended = await Promise.all(ids.map((id) => kit.waitForEnd(id)));
    assert.deepEqual(
      ended.map((s) => s.status),
      ['completed', 'completed', 'completed'],
    );
    await waitFor(
      async () =>
        (await redis.hget(`${kit.queuePrefix}:saga-units/limited-kit/call:meta`, 'concurrency')) === '2'
          ? true
          : undefined,
      { what: 'the concurrency back in Redis' },
    );
  });
});
