import { Agent, request } from 'node:http';
import { performance } from 'node:perf_hooks';

export interface OpenLoopResult {
  /** Milliseconds from when each request was due to when its response ended. */
  latenciesMs: number[];
  statusCodes: Record<string, number>;
  errors: number;
  timeouts: number;
  /** From the first request's due time to the last response. */
  seconds: number;
}

/**
 * Sends `perSecond` requests a second for `seconds`, evenly spaced, each when it is due whatever
 * the earlier ones are doing (an open loop, as independent clients would). A latency counts from
 * the request's due time, so a generator or server falling behind shows in it instead of lowering
 * the rate (no coordinated omission). autocannon's rate option instead lets every connection send
 * its share of a second back to back at the start of that second: a burst test.
 */
export async function openLoop(options: {
  url: string;
  body: () => string;
  perSecond: number;
  seconds: number;
  timeoutMs: number;
  onResponse?: () => void;
}): Promise<OpenLoopResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1024 });
  const result: OpenLoopResult = { latenciesMs: [], statusCodes: {}, errors: 0, timeouts: 0, seconds: 0 };
  const total = Math.round(options.perSecond * options.seconds);
  const intervalMs = 1000 / options.perSecond;
  const startsAt = performance.now() + 5;
  const sent: Promise<void>[] = [];
  for (let index = 0; index < total; index++) {
    const dueAt = startsAt + index * intervalMs;
    const wait = dueAt - performance.now();
    // Timers fire at millisecond granularity: requests due within the next millisecond go now.
    if (wait >= 1) await new Promise((resolve) => setTimeout(resolve, wait));
    sent.push(send(options, agent, options.body(), dueAt, result));
  }
  await Promise.all(sent);
  result.seconds = (performance.now() - startsAt) / 1000;
  agent.destroy();
  return result;
}

function send(
  options: { url: string; timeoutMs: number; onResponse?: () => void },
  agent: Agent,
  body: string,
  dueAt: number,
  result: OpenLoopResult,
): Promise<void> {
  return new Promise((resolve) => {
    let timedOut = false;
    const req = request(
      options.url,
      {
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        timeout: options.timeoutMs,
      },
      (res) => {
        res.resume();
        res.on('end', () => {
          result.latenciesMs.push(performance.now() - dueAt);
          const status = String(res.statusCode);
          result.statusCodes[status] = (result.statusCodes[status] ?? 0) + 1;
          options.onResponse?.();
          resolve();
        });
      },
    );
    req.on('timeout', () => {
      timedOut = true;
      result.timeouts++;
      req.destroy();
    });
    req.on('error', () => {
      if (!timedOut) result.errors++;
      resolve();
    });
    req.end(body);
  });
}
