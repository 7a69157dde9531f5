import type { SagaView } from '../../src/saga/index.js';
import type { HttpClient } from './http-client.js';
import type { TestEnvironment } from './test-app.js';
import { waitFor } from './wait.js';

const TERMINAL = ['completed', 'compensated', 'failed'];

/** Waits until the saga reaches one of `statuses` (any terminal status by default) and returns its view. */
export function waitForSaga(
  http: HttpClient,
  id: string,
  statuses = TERMINAL,
  timeoutMs = 20_000,
): Promise<SagaView> {
  return waitFor(
    async () => {
      const { status, body, text } = await http.get<SagaView>(`/sagas/${id}`);
      // Named in the timeout's message: a refused question (a missing API key) is no slow saga.
      if (status >= 400 && status < 500) throw new Error(`GET /sagas/${id} answered ${status}: ${text}`);
      return statuses.includes(body?.status) ? body : undefined;
    },
    { timeoutMs, what: `saga ${id} to be ${statuses.join(' or ')}` },
  );
}

/**
 * Polls Postgres and Redis (not a process, which may be the one being killed) until the handler
 * of step `name` runs: the step is running (its attempt may be claimed while its job still
 * waits in the queue) and a worker has taken that job.
 */
export function stepRunning(t: TestEnvironment, id: string, name: string): Promise<true> {
  return waitFor(
    async () => {
      const [step] = await t.sql`
        SELECT status, key, seq FROM saga_units WHERE saga_id = ${id} AND name = ${name} AND kind = 'step'`;
      if (step?.status !== 'running') return undefined;
      const taken = await t.redis.hget(
        `${t.queuePrefix}:saga-units:${id}-${step.key}-${step.seq}`,
        'processedOn',
      );
      return taken ? true : undefined;
    },
    { timeoutMs: 15_000, intervalMs: 10, what: `step ${name} of saga ${id} to run` },
  );
}

export interface EventItem {
  seq: number;
  type: string;
  step?: string;
  attempt?: number;
  at: string;
  data?: any;
}

export async function eventsOf(http: HttpClient, id: string): Promise<EventItem[]> {
  return (await http.get<{ items: EventItem[] }>(`/sagas/${id}/events`)).body.items;
}

export const orderInput = (overrides: Record<string, unknown> = {}) => ({
  orderId: `order-${Math.random().toString(36).slice(2)}`,
  customerId: 'customer-1',
  items: [{ sku: 'sku-1', quantity: 2 }],
  amount: 42.5,
  card: '4242424242424242',
  ...overrides,
});

/** A valid trip of its own; `overrides` replace whole fields (`car: undefined` drops the car). */
export const tripInput = (overrides: Record<string, unknown> = {}, prefix = 'trip') => ({
  tripId: `${prefix}-${Math.random().toString(36).slice(2)}`,
  travelerId: 'traveler-1',
  flight: { from: 'LHR', to: 'LIS' },
  hotel: { city: 'Lisbon', nights: 3 },
  car: { class: 'compact' },
  amount: 980,
  card: '4242424242424242',
  ...overrides,
});
