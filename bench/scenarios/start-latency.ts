import { startAppProcess, type AppProcess } from '../support/app-process.js';
import { cleanUpOnInterrupt, once } from '../support/cleanup.js';
import { createIsolatedEnvironment, uniqueSuffix } from '../support/isolated-environment.js';
import { machineBusyClock } from '../support/machine.js';
import { openLoop } from '../support/open-loop.js';
import { distribution, round } from '../support/percentiles.js';
import type { Progress } from '../support/progress.js';

export interface StartLatencyResult {
  /** The processes the app ran as, the first one answering the requests. */
  deployment: string;
  targetPerSecond: number;
  achievedPerSecond: number;
  requests: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  non2xx: number;
  /** Responses by HTTP status. */
  statusCodes: Record<string, number>;
  errors: number;
  timeouts: number;
  /** How busy the machine's cores were meanwhile (app, Postgres, Redis and this load generator). */
  machineBusyPercent: number;
  /** The end of the app's log when something went wrong, to say what. */
  appLogTail?: string;
}

/** A valid `order` input, with an order id of its own for every request. */
const orderBody = (orderNumber: number): string =>
  JSON.stringify({
    orderId: `order-${orderNumber}`,
    customerId: `customer-${orderNumber}`,
    items: [{ sku: 'sku-1', quantity: 1 }],
    amount: 42.5,
    card: '4242424242424242',
  });
const WARM_UP = { perSecond: 100, seconds: 2 };

/**
 * How the app is deployed while it is measured: all in one process, or the API in one process and
 * the workers in another (on the same machine, so they still share its cores).
 */
const DEPLOYMENTS: { deployment: string; roles: string[] }[] = [
  { deployment: 'one process, SAGA_ROLE=all', roles: ['all'] },
  { deployment: 'API + worker process', roles: ['api', 'worker'] },
];

/**
 * POST /sagas/order at fixed rates against the app as it is deployed (`node dist/src/main.js`),
 * whose workers run the sagas it accepts while it is measured; requests evenly spaced, and a
 * request that could not be sent on time counts from when it should have been.
 */
export async function measureStartLatency(
  rates: number[],
  seconds: number,
  progress: Progress,
): Promise<StartLatencyResult[]> {
  const results: StartLatencyResult[] = [];
  for (const { deployment, roles } of DEPLOYMENTS) {
    results.push(...(await measureDeployment(deployment, roles, rates, seconds, progress)));
  }
  return results;
}

async function measureDeployment(
  deployment: string,
  roles: string[],
  rates: number[],
  seconds: number,
  progress: Progress,
): Promise<StartLatencyResult[]> {
  const id = uniqueSuffix();
  const environment = await createIsolatedEnvironment({
    databaseName: `saga_bench_http_${id}`,
    queuePrefix: `saga-bench-http-${id}`,
  });
  const processes: AppProcess[] = [];
  const stopAll = once(() => Promise.all(processes.map((p) => p.stop())).then(() => undefined));
  const unregister = cleanUpOnInterrupt(stopAll);
  try {
    for (const role of roles) processes.push(await startAppProcess(environment, { SAGA_ROLE: role }));
    const [app] = processes;
    // Not reported: the first requests pay for JIT compilation and opening connections.
    let orders = 0;
    const nextBody = () => orderBody(++orders);
    await fire(deployment, app.url, nextBody, WARM_UP.perSecond, WARM_UP.seconds);
    const results: StartLatencyResult[] = [];
    for (const rate of rates) {
      progress.start(`POST /sagas/order @ ${rate}/s, ${deployment}`, rate * seconds);
      let responses = 0;
      const result = await fire(deployment, app.url, nextBody, rate, seconds, () =>
        progress.update(++responses),
      );
      progress.stop();
      if (result.non2xx + result.errors + result.timeouts > 0)
        result.appLogTail = processes
          .map((p) => p.recentOutput())
          .join('\n')
          .slice(-1500);
      results.push(result);
    }
    return results;
  } finally {
    unregister();
    await stopAll();
    await environment.destroy();
  }
}

async function fire(
  deployment: string,
  url: string,
  body: () => string,
  perSecond: number,
  seconds: number,
  onResponse?: () => void,
): Promise<StartLatencyResult> {
  const busy = machineBusyClock();
  const result = await openLoop({
    url: `${url}/sagas/order`,
    body,
    perSecond,
    seconds,
    timeoutMs: 10_000,
    onResponse,
  });
  const latency = distribution(result.latenciesMs);
  const requests = result.latenciesMs.length + result.errors + result.timeouts;
  return {
    deployment,
    targetPerSecond: perSecond,
    achievedPerSecond: round(requests / result.seconds, 1),
    requests,
    p50Ms: round(latency.p50, 1),
    p99Ms: round(latency.p99, 1),
    maxMs: round(latency.max, 1),
    non2xx: Object.entries(result.statusCodes)
      .filter(([code]) => !code.startsWith('2'))
      .reduce((sum, [, count]) => sum + count, 0),
    statusCodes: result.statusCodes,
    errors: result.errors,
    timeouts: result.timeouts,
    machineBusyPercent: round(busy(), 0),
  };
}
