import type { SagaView } from '../../src/saga/index.js';

export const TERMINAL_STATUSES = ['completed', 'compensated', 'failed'] as const;

/** The saga HTTP API, as a newcomer would call it: fetch and JSON, nothing else. */
export class SagaHttpClient {
  private readonly auth: Record<string, string>;

  /** `apiKey`: the app's API_KEY, when it has one (every saga route then needs it). */
  constructor(
    readonly baseUrl: string,
    apiKey?: string,
  ) {
    this.auth = apiKey ? { authorization: `Bearer ${apiKey}` } : {};
  }

  async start(name: string, input: unknown): Promise<{ id: string; status: string }> {
    const response = await fetch(`${this.baseUrl}/sagas/${name}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...this.auth },
      body: JSON.stringify(input),
    });
    const body = await response.json();
    if (response.status !== 202)
      throw new Error(`POST /sagas/${name} answered ${response.status}: ${JSON.stringify(body)}`);
    return body as { id: string; status: string };
  }

  /** Sends a signal to a saga: 202 when accepted (kept until a step of the saga waits for it). */
  async signal(id: string, signal: string, payload: unknown): Promise<void> {
    const response = await fetch(`${this.baseUrl}/sagas/${id}/signals/${signal}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...this.auth },
      body: JSON.stringify(payload),
    });
    if (response.status !== 202) {
      const body = await response.text();
      throw new Error(`POST /sagas/${id}/signals/${signal} answered ${response.status}: ${body}`);
    }
    await response.body?.cancel();
  }

  async get(id: string): Promise<SagaView> {
    const response = await fetch(`${this.baseUrl}/sagas/${id}`, { headers: this.auth });
    const body = await response.json();
    if (!response.ok)
      throw new Error(`GET /sagas/${id} answered ${response.status}: ${JSON.stringify(body)}`);
    return body as SagaView;
  }

  /** Stored sagas of `name` by status, from the `saga_sagas` gauge of GET /metrics: one cheap request. */
  async countsByStatus(name: string): Promise<Map<string, number>> {
    const response = await fetch(`${this.baseUrl}/metrics`);
    if (!response.ok) throw new Error(`GET /metrics answered ${response.status}`);
    const counts = new Map<string, number>();
    const pattern = /^saga_sagas\{([^}]*)\}\s+(\d+)/gm;
    for (const [, labels, value] of (await response.text()).matchAll(pattern)) {
      const label = (key: string) => new RegExp(`${key}="([^"]*)"`).exec(labels)?.[1];
      if (label('name') === name) counts.set(label('status')!, Number(value));
    }
    return counts;
  }
}

/** Runs `task` over `items` with at most `limit` at once, keeping results in order. */
export async function mapWithConcurrency<T, R>(
  items: T[],
  limit: number,
  task: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await task(items[index], index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  return results;
}
