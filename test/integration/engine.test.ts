import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Queue } from 'bullmq';
import { InventoryService } from '../../sagas/order/inventory.service.js';
import { OrderModule } from '../../sagas/order/order.module.js';
import { SagaDispatcher } from '../../src/saga/execution/saga-dispatcher.js';
import { FlowSagasModule } from '../support/fixtures/flows.saga.js';
import { Journal, ScriptedSagaModule, type ScriptInput } from '../support/fixtures/scripted.saga.js';
import { ChargeLedger, PatientChargeSagaModule } from '../support/fixtures/patient-charge.saga.js';
import { eventsOf, orderInput, waitForSaga } from '../support/sagas.js';
import { waitFor } from '../support/wait.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

describe('saga engine, through the running app', () => {
  let t: TestApp;
  let journal: Journal;

  before(async () => {
    t = await startTestApp({ sagaModules: [OrderModule, ScriptedSagaModule] });
    journal = t.app.get(Journal);
  });
  after(() => t.close());

  async function run(script: ScriptInput['script']) {
    const started = await t.http.post('/sagas/scripted', { script });
    assert.equal(started.status, 202);
    return started.body.id as string;
  }

  it('runs every step once, in order, and completes with their outputs', async () => {
    const id = await run({});
    const saga = await waitForSaga(t.http, id);
    assert.equal(saga.status, 'completed');
    assert.deepEqual(journal.handlers(id), ['a', 'b', 'c', 'd']);
    assert.deepEqual(
      saga.steps!.map((s) => [s.name, s.status, s.attempts]),
      [
        ['a', 'completed', 1],
        ['b', 'completed', 1],
        ['c', 'completed', 1],
        ['d', 'completed', 1],
      ],
    );
    // A step sees the outputs of earlier steps, and the saga's output gathers every step's output.
    assert.deepEqual(saga.steps![1].output, { handler: 'b', call: 1, previous: { handler: 'a', call: 1 } });
    assert.deepEqual(Object.keys(saga.output as object), ['a', 'b', 'c', 'd']);
    assert.ok(saga.completedAt);
  });

  it('retries a failing step with its backoff, with one idempotency key for every attempt', async () => {
    const id = await run({ b: ['fail', 'fail', 'ok'] });
    const saga = await waitForSaga(t.http, id);
    assert.equal(saga.status, 'completed');
    const calls = journal.of(id).filter((e) => e.handler === 'b');
    assert.deepEqual(
      calls.map((c) => c.attempt),
      [1, 2, 3],
    );
    assert.equal(new Set(calls.map((c) => c.idempotencyKey)).size, 1);
    // Fixed backoff of 50 ms between attempts.
    assert.ok(
      calls[1].at - calls[0].at >= 45,
      `second attempt ${calls[1].at - calls[0].at} ms after the first`,
    );
    assert.ok(
      calls[2].at - calls[1].at >= 45,
      `third attempt ${calls[2].at - calls[1].at} ms after the second`,
    );
    const b = saga.steps!.find((s) => s.name === 'b')!;
    assert.equal(b.attempts, 3);
    assert.equal(b.error, undefined);
    const failures = (await eventsOf(t.http, id)).filter((e) => e.type === 'step_failed');
    assert.deepEqual(
      failures.map((e) => [e.step, e.attempt, e.data.retryInMs]),
      [
        ['b', 1, 50],
        ['b', 2, 50],
      ],
    );
  });

  it('on a non-retryable failure compensates the completed steps in exact reverse order', async () => {
    const id = await run({ d: ['fatal'] });
    const saga = await waitForSaga(t.http, id);
    assert.equal(saga.status, 'compensated');
    assert.deepEqual(saga.error, {
      name: 'NonRetryableError',
      message: 'd cannot succeed',
      retryable: false,
    });
    assert.deepEqual(journal.handlers(id), ['a', 'b', 'c', 'd', 'undoC', 'undoB', 'undoA']);
    const events = await eventsOf(t.http, id);
    assert.deepEqual(
      events.filter((e) => e.type === 'compensation_completed').map((e) => e.step),
      ['c', 'b', 'a'],
    );
    assert.deepEqual(
      events.map((e) => e.seq),
      events.map((_, i) => i + 1),
    );
    assert.equal(events.at(-1)!.type, 'saga_compensated');
    assert.deepEqual(
      saga.steps!.map((s) => [s.name, s.status, s.compensation?.status]),
      [
        ['a', 'compensated', 'completed'],
        ['b', 'compensated', 'completed'],
        ['c', 'compensated', 'completed'],
        ['d', 'failed', undefined],
      ],
    );
  });

  it('compensates only what completed, and the failed step itself only when it opts in', async () => {
    const atB = await run({ b: ['fatal'] });
    assert.equal((await waitForSaga(t.http, atB)).status, 'compensated');
    assert.deepEqual(journal.handlers(atB), ['a', 'b', 'undoA']);

    const atC = await run({ c: ['fatal'] });
    const saga = await waitForSaga(t.http, atC);
    assert.deepEqual(journal.handlers(atC), ['a', 'b', 'c', 'undoC', 'undoB', 'undoA']);
    assert.deepEqual(
      saga.steps!.map((s) => s.status),
      ['compensated', 'compensated', 'compensated', 'skipped'],
    );
  });

  it('ends compensated with nothing to undo when the first step fails', async () => {
    const id = await run({ a: ['fatal'] });
    const saga = await waitForSaga(t.http, id);
    assert.equal(saga.status, 'compensated');
    assert.deepEqual(journal.handlers(id), ['a']);
  });

  it('records an error whose message Postgres cannot store as is, instead of failing the transition', async () => {
    const id = await run({ b: ['garbled'] });
    const saga = await waitForSaga(t.http, id);
    assert.equal(saga.status, 'compensated');
    assert.equal(saga.error?.message, 'b wrote \ufffd and \ufffd');
  });

  it('times out a hanging step, aborts its signal, retries it, then compensates', async () => {
    const id = await run({ d: ['hang'] });
    const saga = await waitForSaga(t.http, id);
    assert.equal(saga.status, 'compensated');
    const d = saga.steps!.find((s) => s.name === 'd')!;
    assert.equal(d.attempts, 2);
    assert.equal(d.error?.name, 'StepTimeout');
    assert.deepEqual(
      journal
        .of(id)
        .filter((e) => e.handler === 'd')
        .map((e) => e.aborted),
      ['StepTimeout', 'StepTimeout'],
    );
  });

  it('ends failed (dead letter) when a compensation exhausts its retries, and retry resumes it', async () => {
    const id = await run({ d: ['fatal'], undoB: ['fail', 'fail', 'ok'] });
    const saga = await waitForSaga(t.http, id);
    assert.equal(saga.status, 'failed');
    assert.deepEqual(journal.handlers(id), ['a', 'b', 'c', 'd', 'undoC', 'undoB', 'undoB']);
    const b = saga.steps!.find((s) => s.name === 'b')!;
    assert.equal(b.status, 'compensation_failed');
    assert.equal(b.compensation?.attempts, 2);
    assert.equal(saga.error?.message, 'undoB failed on call 2');

    const deadLetters = await t.http.get('/sagas?status=failed');
    assert.ok(deadLetters.body.items.some((s: { id: string }) => s.id === id));

    const retried = await t.http.post(`/sagas/${id}/retry`);
    assert.equal(retried.status, 202);
    assert.deepEqual(retried.body, { id, name: 'scripted', status: 'compensating' });
    const resumed = await waitForSaga(t.http, id);
    assert.equal(resumed.status, 'compensated');
    assert.deepEqual(journal.handlers(id).slice(7), ['undoB', 'undoA']);
    const events = await eventsOf(t.http, id);
    assert.ok(events.some((e) => e.type === 'saga_retried'));

    const again = await t.http.post(`/sagas/${id}/retry`);
    assert.equal(again.status, 409);
  });

  it('cancel during a step lets it finish, runs no further step and compensates', async () => {
    const id = await run({ b: ['slow'] });
    await waitForSaga(t.http, id, ['running']);
    while (!journal.handlers(id).includes('b')) await new Promise((r) => setTimeout(r, 10));
    const cancelled = await t.http.post(`/sagas/${id}/cancel`);
    assert.equal(cancelled.status, 202);
    const saga = await waitForSaga(t.http, id);
    assert.equal(saga.status, 'compensated');
    assert.equal(saga.error?.name, 'SagaCancelled');
    assert.deepEqual(journal.handlers(id), ['a', 'b', 'undoB', 'undoA']);
    assert.equal((await t.http.post(`/sagas/${id}/cancel`)).status, 409);
  });

  it("cancel aborts the running step's signal; a step that gives up is failed and, opted in, compensated", async () => {
    const id = await run({ c: ['hang'] });
    while (!journal.handlers(id).includes('c')) await new Promise((r) => setTimeout(r, 10));
    assert.equal((await t.http.post(`/sagas/${id}/cancel`)).status, 202);
    const saga = await waitForSaga(t.http, id, undefined, 5000);
    assert.equal(saga.status, 'compensated');
    assert.equal(journal.of(id).find((e) => e.handler === 'c')!.aborted, 'SagaCancelled');
    assert.deepEqual(journal.handlers(id), ['a', 'b', 'c', 'undoC', 'undoB', 'undoA']);
    assert.equal(saga.steps![2].error?.name, 'SagaCancelled');
  });

  it('a cancel reads as a cancel when the step gives up with the AbortError of its I/O', async () => {
    const id = await run({ c: ['sleep'] });
    while (!journal.handlers(id).includes('c')) await new Promise((r) => setTimeout(r, 10));
    assert.equal((await t.http.post(`/sagas/${id}/cancel`)).status, 202);
    const saga = await waitForSaga(t.http, id, undefined, 5000);
    assert.equal(saga.status, 'compensated');
    assert.deepEqual(saga.error, {
      name: 'SagaCancelled',
      message: 'cancelled on request',
      retryable: false,
    });
    assert.equal(saga.steps![2].status, 'compensated');
    assert.deepEqual(saga.steps![2].error, saga.error);
    assert.deepEqual(journal.handlers(id), ['a', 'b', 'c', 'undoC', 'undoB', 'undoA']);
  });

  it('acknowledges a duplicated job for a recorded step without calling the handler', async () => {
    const id = await run({});
    await waitForSaga(t.http, id);
    const queue = new Queue('saga-units', {
      connection: { url: 'redis://127.0.0.1:6379' },
      prefix: t.queuePrefix,
    });
    try {
      // Deliver the units of steps a and b again, as their jobs were, claimed or not.
      await queue.add('unit', { sagaId: id, unit: 's0', seq: 1, claimed: false }, { jobId: `${id}-s0-1` });
      await queue.add('unit', { sagaId: id, unit: 's1', seq: 1, claimed: true }, { jobId: `${id}-s1-1` });
      await waitForQueueDrained(queue);
    } finally {
      await queue.close();
    }
    assert.deepEqual(journal.handlers(id), ['a', 'b', 'c', 'd']);
    const [{ count }] =
      await t.sql`SELECT count(*)::int AS count FROM saga_events WHERE saga_id = ${id} AND type = 'step_completed'`;
    assert.equal(count, 4);
  });
});

describe('a cancel between two attempts of a step', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp({ sagaModules: [PatientChargeSagaModule] });
  });
  after(() => t.close());

  it('fails the step, and compensates it when it compensates its own failure, as a cancel during an attempt does', async () => {
    const ledger = t.app.get(ChargeLedger);
    const { body } = await t.http.post('/sagas/patient-charge', {});
    const id = body.id as string;
    // The first attempt of the charge failed; the next one is a minute away.
    await waitFor(async () =>
      (await eventsOf(t.http, id)).find((e) => e.type === 'step_failed' && e.data?.retryInMs),
    );
    assert.equal((await t.http.post(`/sagas/${id}/cancel`)).status, 202);
    const saga = await waitForSaga(t.http, id, undefined, 5000);
    assert.equal(saga.status, 'compensated');
    assert.equal(saga.error?.name, 'SagaCancelled');
    const charge = saga.steps!.find((s) => s.name === 'charge')!;
    assert.equal(charge.status, 'compensated');
    assert.equal(charge.attempts, 1);
    assert.equal(charge.error?.message, 'provider unavailable');
    assert.equal(charge.compensation?.status, 'completed');
    assert.deepEqual(ledger.handlers(id), ['reserve', 'charge', 'refund', 'release']);
  });
});

describe('the order saga keeps its inventory exact', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp({ sagaModules: [OrderModule] });
  });
  after(() => t.close());

  const stock = async (sku: string) =>
    (await t.sql`SELECT available FROM inventory WHERE sku = ${sku}`)[0]?.available as number | undefined;

  async function order(items: { sku: string; quantity: number }[]) {
    const started = await t.http.post('/sagas/order', orderInput({ items }));
    assert.equal(started.status, 202, started.text);
    return waitForSaga(t.http, started.body.id as string);
  }

  it('an unknown SKU fails the reservation for good and takes no stock of the other items', async () => {
    const before = await stock('sku-7');
    const saga = await order([
      { sku: 'sku-7', quantity: 3 },
      { sku: 'sku-unknown', quantity: 1 },
    ]);
    assert.equal(saga.status, 'compensated');
    assert.deepEqual(saga.error, {
      name: 'NonRetryableError',
      message: 'unknown SKU sku-unknown',
      retryable: false,
    });
    assert.equal(saga.steps![0].attempts, 1, 'not retried');
    assert.equal(await stock('sku-7'), before);
    const [{ count }] =
      await t.sql`SELECT count(*)::int AS count FROM inventory_reservations WHERE order_id = ${(saga.input as { orderId: string }).orderId}`;
    assert.equal(count, 0);
  });

  it('short stock fails the reservation for good and leaves the stock as it was', async () => {
    await t.sql`UPDATE inventory SET available = 2 WHERE sku = 'sku-8'`;
    const saga = await order([{ sku: 'sku-8', quantity: 3 }]);
    assert.equal(saga.status, 'compensated');
    assert.equal(saga.error?.message, 'not enough stock for sku-8: 3 wanted, 2 left');
    assert.equal(await stock('sku-8'), 2);
  });

  it('reserving again, or at the same time, under one idempotency key takes the stock once', async () => {
    const inventory = t.app.get(InventoryService);
    const before = await stock('sku-10');
    const items = [{ sku: 'sku-10', quantity: 4 }];
    const reservations = await Promise.all([
      inventory.reserve('key-1', 'order-1', items),
      inventory.reserve('key-1', 'order-1', items),
    ]);
    await inventory.reserve('key-1', 'order-1', items);
    assert.deepEqual(reservations[0], reservations[1]);
    assert.equal(await stock('sku-10'), before! - 4);
    assert.deepEqual(await inventory.release('key-1'), { released: true });
    assert.deepEqual(await inventory.release('key-1'), { released: false });
    assert.equal(await stock('sku-10'), before);
  });

  it('two deliveries of one reservation at once both succeed when it takes the last units', async () => {
    const inventory = t.app.get(InventoryService);
    await t.sql`UPDATE inventory SET available = 4 WHERE sku = 'sku-22'`;
    const items = [{ sku: 'sku-22', quantity: 4 }];
    // The second waits for the first's row lock, then finds no stock left but the key reserved.
    const reservations = await Promise.all([
      inventory.reserve('last-units', 'order-last', items),
      inventory.reserve('last-units', 'order-last', items),
    ]);
    assert.deepEqual(reservations[0], reservations[1]);
    assert.equal(await stock('sku-22'), 0);
  });

  it('concurrent orders for the last units of hot SKUs take all or nothing, and never more than there is', async () => {
    const inventory = t.app.get(InventoryService);
    await t.sql`UPDATE inventory SET available = 10 WHERE sku IN ('sku-20', 'sku-21')`;
    // Half list the SKUs the other way round: rows locked in different orders would deadlock.
    const outcomes = await Promise.allSettled(
      Array.from({ length: 30 }, (_, i) =>
        inventory.reserve(`hot-${i}`, `order-hot-${i}`, [
          { sku: i % 2 ? 'sku-20' : 'sku-21', quantity: 1 },
          { sku: i % 2 ? 'sku-21' : 'sku-20', quantity: 1 },
        ]),
      ),
    );
    const reserved = outcomes.filter((o) => o.status === 'fulfilled').length;
    const refused = outcomes.flatMap((o) => (o.status === 'rejected' ? [o.reason as Error] : []));
    assert.equal(reserved, 10);
    assert.ok(
      refused.every((e) => e.name === 'NonRetryableError' && e.message.startsWith('not enough stock')),
    );
    assert.deepEqual([await stock('sku-20'), await stock('sku-21')], [0, 0]);
    const [{ count }] =
      await t.sql`SELECT count(*)::int AS count FROM inventory_reservations WHERE key LIKE 'hot-%'`;
    assert.equal(count, 10);

    // Releasing every key twice, all at once, gives each reservation back once.
    const releases = await Promise.all(
      [...Array(30).keys(), ...Array(30).keys()].map((i) => inventory.release(`hot-${i}`)),
    );
    assert.equal(releases.filter((r) => r.released).length, 10);
    assert.deepEqual([await stock('sku-20'), await stock('sku-21')], [10, 10]);
  });

  it('a completed order took its stock once (quantities of one SKU added up); a compensated one gave it back', async () => {
    const before = await stock('sku-9');
    const done = await order([
      { sku: 'sku-9', quantity: 2 },
      { sku: 'sku-9', quantity: 3 },
    ]);
    assert.equal(done.status, 'completed');
    assert.equal(await stock('sku-9'), before! - 5);
    const declined = await t.http.post(
      '/sagas/order',
      orderInput({ items: [{ sku: 'sku-9', quantity: 4 }], card: '4000000000000002' }),
    );
    assert.equal((await waitForSaga(t.http, declined.body.id as string)).status, 'compensated');
    assert.equal(await stock('sku-9'), before! - 5);
  });
});

describe('Redis stays bounded', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp({ sagaModules: [FlowSagasModule] });
  });
  after(() => t.close());

  it('keeps no job once Postgres has recorded its outcome, whether it completed, failed or was stale', async () => {
    const ids: string[] = [];
    for (const script of [{}, { b: ['fail', 'ok'] }, { d: ['fatal'] }, { d: ['fatal'], undoB: ['fail'] }]) {
      for (let i = 0; i < 10; i++) ids.push((await t.http.post('/sagas/scripted', { script })).body.id);
    }
    // Sagas with a deadline a week away, a signal timeout a day away, and a child: none of those
    // delayed jobs outlives its saga.
    for (let i = 0; i < 5; i++) {
      const { body } = await t.http.post('/sagas/approval?deadlineMs=604800000', { timeoutMs: 86_400_000 });
      await waitFor(async () =>
        (await t.http.post(`/sagas/${body.id}/signals/approval`, { approved: i % 2 === 0, by: 'ops' }))
          .status === 202
          ? true
          : undefined,
      );
      ids.push(body.id, (await t.http.post('/sagas/parent', {})).body.id);
    }
    for (const id of ids) await waitForSaga(t.http, id);
    await t.app.get(SagaDispatcher, { strict: false }).drain();
    const jobKeys: string[] = [];
    let cursor = '0';
    do {
      const [next, keys] = await t.redis.scan(
        cursor,
        'MATCH',
        `${t.queuePrefix}:saga-units:*`,
        'COUNT',
        1000,
      );
      jobKeys.push(...keys.filter((key) => /:[0-9a-f-]{36}-[a-z]+\d*-\d+(:|$)/.test(key)));
      cursor = next;
    } while (cursor !== '0');
    assert.deepEqual(jobKeys, []);
    const queue = new Queue('saga-units', {
      connection: { url: 'redis://127.0.0.1:6379' },
      prefix: t.queuePrefix,
    });
    try {
      const counts = await queue.getJobCounts('completed', 'failed', 'waiting', 'delayed', 'active');
      assert.deepEqual(counts, { completed: 0, failed: 0, waiting: 0, delayed: 0, active: 0 });
    } finally {
      await queue.close();
    }
  });
});

async function waitForQueueDrained(queue: Queue): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const counts = await queue.getJobCounts('waiting', 'active', 'delayed');
    if (counts.waiting + counts.active + counts.delayed === 0) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error('queue did not drain');
}
