// `npm run bench -- --workers 1,2,4`: the app deployed as one API process and N worker processes
// (each `node` running the app with SAGA_ROLE=api or worker), three no-op steps per saga, started
// over HTTP as fast as the processes complete them. What it reports: sagas/s, the Postgres
// connections the processes hold, and where the CPU goes, to say what bounds scaling out.
import { readFileSync } from 'node:fs';
import postgres from 'postgres';
import { NOOP_SAGA } from '../noop.saga.js';
import { NOOP_APP_JS, startAppProcess, type AppProcess } from '../support/app-process.js';
import { cleanUpOnInterrupt, once } from '../support/cleanup.js';
import { InFlightWindow } from '../support/in-flight-window.js';
import { createIsolatedEnvironment, uniqueSuffix } from '../support/isolated-environment.js';
import { machineBusyClock } from '../support/machine.js';
import { round } from '../support/percentiles.js';
import type { Progress } from '../support/progress.js';
import { SagaHttpClient } from '../support/saga-http.js';

export interface ScaleOutSettings {
  sagas: number;
  warmupSagas: number;
  /** WORKER_CONCURRENCY of each worker process. */
  concurrency: number;
}

export interface ScaleOutResult {
  workers: number;
  sagas: number;
  sagasPerSecond: number;
  /** Most connections to the run's database seen at once (the bench's own observer excluded). */
  postgresConnections: number;
  /** CPU ms per saga: the API process, all worker processes together, and the machine's busy share. */
  apiCpuMsPerSaga: number;
  workersCpuMsPerSaga: number;
  machineBusyPercent: number;
}

const POLL_MS = 20;

export async function measureScaleOut(
  workers: number,
  settings: ScaleOutSettings,
  progress: Progress,
): Promise<ScaleOutResult> {
  const id = uniqueSuffix();
  const environment = await createIsolatedEnvironment({
    databaseName: `saga_bench_scale_${id}`,
    queuePrefix: `saga-bench-scale-${id}`,
  });
  const processes: AppProcess[] = [];
  const stopAll = once(() => Promise.all(processes.map((p) => p.stop())).then(() => undefined));
  const unregister = cleanUpOnInterrupt(stopAll);
  const observer = postgres(environment.databaseUrl, { max: 1, onnotice: () => undefined });
  try {
    processes.push(await startAppProcess(environment, { SAGA_ROLE: 'api' }, NOOP_APP_JS));
    for (let i = 0; i < workers; i++) {
      const settingsOfWorker = { SAGA_ROLE: 'worker', WORKER_CONCURRENCY: String(settings.concurrency) };
      processes.push(await startAppProcess(environment, settingsOfWorker, NOOP_APP_JS));
    }
    const [api, ...workerProcesses] = processes;
    const http = new SagaHttpClient(api.url);
    const total = settings.warmupSagas + settings.sagas;
    // As in the other throughput scenarios: twice what the workers run at once keeps them busy
    // without measuring the length of a backlog.
    const window = new InFlightWindow(total, 2 * settings.concurrency * workers, () =>
      http.start(NOOP_SAGA, {}),
    );
    progress.start(`scale-out, 1 API + ${workers} worker process${workers > 1 ? 'es' : ''}`, total);

    let measuredFrom: { at: number; api: number; workers: number; busy: () => number } | undefined;
    let connections = 0;
    const completions = (async () => {
      for (let seen = 0; seen < total;) {
        await new Promise((resolve) => setTimeout(resolve, POLL_MS));
        const [row] = await observer<{ completed: number; connections: number }[]>`
          SELECT (SELECT count(*)::int FROM saga.sagas WHERE status = 'completed') AS completed,
                 (SELECT count(*)::int FROM pg_stat_activity WHERE datname = current_database()) AS connections`;
        connections = Math.max(connections, row.connections - 1);
        for (; seen < row.completed; seen++) window.finished();
        progress.update(seen);
        if (!measuredFrom && seen >= settings.warmupSagas) {
          measuredFrom = {
            at: performance.now(),
            api: cpuMsOf(api.pid),
            workers: sum(workerProcesses.map((p) => cpuMsOf(p.pid))),
            busy: machineBusyClock(),
          };
        }
      }
    })();
    await Promise.all([window.run(), completions]);
    progress.stop();
    const from = measuredFrom!;
    const seconds = (performance.now() - from.at) / 1000;
    const measured = total - settings.warmupSagas;
    return {
      workers,
      sagas: measured,
      sagasPerSecond: round(measured / seconds, 1),
      postgresConnections: connections,
      apiCpuMsPerSaga: round((cpuMsOf(api.pid) - from.api) / measured, 3),
      workersCpuMsPerSaga: round(
        (sum(workerProcesses.map((p) => cpuMsOf(p.pid))) - from.workers) / measured,
        3,
      ),
      machineBusyPercent: round(from.busy(), 0),
    };
  } finally {
    unregister();
    await observer.end();
    await stopAll();
    await environment.destroy();
  }
}

/** User and system CPU time of another process so far, from /proc (Linux). */
function cpuMsOf(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  // utime and stime are fields 14 and 15 of the line, counted in clock ticks of 10 ms.
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

function sum(values: number[]): number {
  return values.reduce((a, b) => a + b, 0);
}
