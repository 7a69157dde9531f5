import autocannon from 'autocannon';
import { startAppProcess } from '../support/app-process.js';
import { cleanUpOnInterrupt, once } from '../support/cleanup.js';
import { createIsolatedEnvironment, uniqueSuffix } from '../support/isolated-environment.js';
import { round } from '../support/percentiles.js';
import type { Progress } from '../support/progress.js';

export interface StartLatencyResult {
  targetPerSecond: number;
  achievedPerSecond: number;
  requests: number;
  connections: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  non2xx: number;
  /** Responses by HTTP status. */
  statusCodes: Record<string, number>;
  errors: number;
  timeouts: number;
  /** The end of the app's log when something went wrong, to say what. */
  appLogTail?: string;
}

/** A valid `order` input; autocannon replaces `[<id>]` with a fresh id in every request. */
const ORDER_BODY = JSON.stringify({
  orderId: 'order-[<id>]',
  customerId: 'customer-[<id>]',
  items: [{ sku: 'sku-1', quantity: 1 }],
  amount: 42.5,
  card: '4242424242424242',
});
const WARM_UP = { perSecond: 100, seconds: 2 };

/**
 * POST /sagas/order at fixed rates against the app as a separate process (`node dist/src/main.js`,
 * role `all`, so its workers run the sagas it accepts while it is measured). autocannon corrects
 * for coordinated omission: a request that could not be sent on time counts from when it should
 * have been.
 */
export async function measureStartLatency(
  rates: number[],
  seconds: number,
  progress: Progress,
): Promise<StartLatencyResult[]> {
  const id = uniqueSuffix();
  const environment = await createIsolatedEnvironment({
    databaseName: `saga_bench_http_${id}`,
    queuePrefix: `saga-bench-http-${id}`,
  });
  try {
    const app = await startAppProcess(environment);
    const unregister = cleanUpOnInterrupt(once(() => app.stop()));
    try {
      // Not reported: the first requests pay for JIT compilation and opening connections.
      await fire(app.url, WARM_UP.perSecond, WARM_UP.seconds);
      const results: StartLatencyResult[] = [];
      for (const rate of rates) {
        progress.start(`POST /sagas/order @ ${rate}/s`, rate * seconds);
        let responses = 0;
        const result = await fire(app.url, rate, seconds, () => progress.update(++responses));
        progress.stop();
        if (result.non2xx + result.errors + result.timeouts > 0)
          result.appLogTail = app.recentOutput().slice(-1500);
        results.push(result);
      }
      return results;
    } finally {
      unregister();
      await app.stop();
    }
  } finally {
    await environment.destroy();
  }
}

function fire(
  url: string,
  perSecond: number,
  seconds: number,
  onResponse?: () => void,
): Promise<StartLatencyResult> {
  // Enough connections that each sends at most 5 requests a second, i.e. the rate holds while
  // responses take up to 200 ms; slower than that, the achieved rate shows it.
  const connections = Math.max(10, Math.ceil(perSecond / 5));
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url: `${url}/sagas/order`,
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: ORDER_BODY,
        idReplacement: true,
        connections,
        overallRate: perSecond,
        duration: seconds,
        timeout: 10,
      },
      (error, result) => {
        if (error) return reject(error);
        resolve({
          targetPerSecond: perSecond,
          achievedPerSecond: round(result.requests.total / result.duration, 1),
          requests: result.requests.total,
          connections,
          p50Ms: result.latency.p50,
          p99Ms: result.latency.p99,
          maxMs: result.latency.max,
          non2xx: result.non2xx,
          statusCodes: Object.fromEntries(
            Object.entries(result.statusCodeStats).map(([code, { count }]) => [code, count]),
          ),
          errors: result.errors,
          timeouts: result.timeouts,
        });
      },
    );
    if (onResponse) instance.on('response', onResponse);
  });
}
