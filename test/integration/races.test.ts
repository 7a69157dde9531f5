import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Queue, type Job } from 'bullmq';
import type { SagaView } from '../../src/saga/index.js';
import { SagaRegistry } from '../../src/saga/definition/saga-registry.js';
import { SagaDispatcher } from '../../src/saga/execution/saga-dispatcher.js';
import { RECONCILE_GRACE_MS, SagaReconciler } from '../../src/saga/execution/saga-reconciler.js';
import { SagaService } from '../../src/saga/execution/saga.service.js';
import { decide } from '../../src/saga/machine/decide.js';
import type { SagaSnapshot } from '../../src/saga/machine/saga-snapshot.js';
import type { Outcome } from '../../src/saga/machine/transition.js';
import { unpackSnapshot, type UnitJobData } from '../../src/saga/execution/saga-queue.js';
import { StepInvoker } from '../../src/saga/execution/step-invoker.js';
import { StepWorker } from '../../src/saga/execution/step.worker.js';
import { SagaStore } from '../../src/saga/store/saga.store.js';
import { Journal, ScriptedSagaModule } from '../support/fixtures/scripted.saga.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

/**
 * Races between deliveries of one unit, driven by hand on an `api` process (which runs no worker
 * and no reconciler of its own), against the real Postgres and Redis.
 */
describe('races between deliveries of one unit', () => {
  let t: TestApp;
  let store: SagaStore;
  let sagas: SagaService;
  let journal: Journal;
  let queue: Queue;
  let dispatcher: SagaDispatcher;

  before(async () => {
    t = await startTestApp({ sagaModules: [ScriptedSagaModule], env: { SAGA_ROLE: 'api' } });
    dispatcher = t.app.get(SagaDispatcher, { strict: false });
    store = t.app.get(SagaStore, { strict: false });
    sagas = t.app.get(SagaService, { strict: false });
    journal = t.app.get(Journal);
    queue = new Queue('saga-units', { connection: { url: 'redis://127.0.0.1:6379' }, prefix: t.queuePrefix });
  });
  after(async () => {
    await queue.close();
    await t.close();
  });

  const start = async () => (await sagas.start('scripted', { script: {} })).id;
  const def = () => t.app.get(SagaRegistry, { strict: false }).find('scripted')!;
  const count = async (id: string, type: string) =>
    (await t.sql`SELECT count(*)::int AS n FROM saga_events WHERE saga_id = ${id} AND type = ${type}`)[0].n;
  const ran = (saga: SagaSnapshot, outcome: Outcome, unit = 's0') =>
    decide(def(), saga, { kind: 'outcome', unit, outcome });
  const unitOf = (saga: SagaSnapshot, key: string) => saga.units.find((u) => u.key === key)!;
  /** Units in key order: the store lists them by step, the in-memory model in order of creation. */
  const canonical = (saga: SagaSnapshot) => ({
    ...saga,
    units: [...saga.units].sort((a, b) => a.key.localeCompare(b.key)),
  });

  it('two claims of the same unit both run, but exactly one commit records the transition', async () => {
    const id = await start();
    const [first, second] = await Promise.all([store.claim(id, 's0', 1), store.claim(id, 's0', 1)]);
    assert.ok(first && second, 'at-least-once: both deliveries may run the handler');
    assert.deepEqual([unitOf(first, 's0').attempts, unitOf(second, 's0').attempts].sort(), [1, 2]);

    const outcome = { kind: 'succeeded' as const, output: { ok: true } };
    const results = await Promise.all([
      store.commit([ran(first, outcome)]),
      store.commit([ran(second, outcome)]),
    ]);
    assert.deepEqual(results.map((r) => r.has(id)).sort(), [false, true]);
    assert.equal(await count(id, 'step_completed'), 1);
    // The commit also claimed the next unit, once: b's first attempt.
    const [row] = await t.sql`
      SELECT s.seq, x.status, x.attempts, x.seq AS unit_seq, x.due_at IS NOT NULL AS due
      FROM sagas s JOIN saga_units x ON x.saga_id = s.id AND x.key = 's1' WHERE s.id = ${id}`;
    assert.deepEqual({ ...row }, { seq: 4, status: 'running', attempts: 1, unit_seq: 1, due: true });
    assert.equal(await count(id, 'step_started'), 3);
    assert.equal(await store.claim(id, 's0', 1), undefined, 'the recorded unit can no longer be claimed');
  });

  it('two workers processing the same job at once record one transition and enqueue the next unit once', async () => {
    const id = await start();
    const worker = t.app.get(StepWorker, { strict: false });
    const job = { data: { sagaId: id, unit: 's0', seq: 1 } } as Parameters<StepWorker['process']>[0];
    await Promise.all([worker.process(job), worker.process(job), worker.process(job)]);
    await dispatcher.drain();
    assert.equal(await count(id, 'step_completed'), 1);
    assert.ok(journal.handlers(id).length >= 1);
    const next = await queue.getJob(`${id}-s1-1`);
    assert.ok(next, 'the next unit is enqueued');
    assert.deepEqual(
      [next.data.sagaId, next.data.unit, next.data.seq, next.data.claimed],
      [id, 's1', 1, true],
    );
  });

  /** Processes the saga's due unit the way a first delivery of its job is processed. */
  async function processNext(id: string): Promise<Job<UnitJobData>> {
    const unit = (await store.snapshot(id))!.units.find((u) => u.scheduled)!;
    const job = (await queue.getJob(`${id}-${unit.key}-${unit.seq}`)) as Job<UnitJobData>;
    assert.ok(job, `unit ${unit.key} of ${id} is enqueued`);
    await t.app.get(StepWorker, { strict: false }).process(job);
    await dispatcher.drain();
    return job;
  }

  it('the snapshot a unit carries is the saga as Postgres recorded it, from its start, forward and backward', async () => {
    // a and b complete; c fails for good and compensates itself (compensateOnFailure), then b and a.
    const id = (await sagas.start('scripted', { script: { c: ['fatal'] } })).id;
    const carried: string[] = [];
    for (;;) {
      const saga = (await store.snapshot(id))!;
      if (!['pending', 'running', 'compensating'].includes(saga.status)) break;
      const job = await processNext(id);
      if (job.data.snapshot) {
        carried.push(job.data.unit);
        assert.deepEqual(
          canonical(unpackSnapshot(job.data.snapshot)),
          canonical(saga),
          `before unit ${job.data.unit}`,
        );
      }
    }
    assert.equal((await store.snapshot(id))!.status, 'compensated');
    assert.deepEqual(carried, ['s0', 's1', 's2', 'c2', 'c1', 'c0']);
    assert.deepEqual(journal.handlers(id), ['a', 'b', 'c', 'undoC', 'undoB', 'undoA']);
  });

  it('a claim with the snapshot its job carries reads no units back unless the saga moved on since', async () => {
    const id = await start();
    await dispatcher.drain();
    const job = (await queue.getJob(`${id}-s0-1`)) as Job<UnitJobData>;
    const known = unpackSnapshot(job.data.snapshot!);
    assert.deepEqual(canonical(known), canonical((await store.snapshot(id))!), 'the new saga, as inserted');
    const first = (await store.claim(id, 's0', 1, known))!;
    assert.deepEqual(
      canonical(first),
      canonical((await store.snapshot(id))!),
      'as known, with the claim counted',
    );
    await store.commit([ran(first, { kind: 'succeeded', output: { a: 1 } })]); // a completes; b is claimed
    // A delivery of b that carries the saga as it was at its start: b is claimed again (attempt 2),
    // and the units are read back, a completed with its output.
    const again = (await store.claim(id, 's1', 1, known))!;
    assert.deepEqual([unitOf(again, 's0').status, unitOf(again, 's0').output], ['completed', { a: 1 }]);
    assert.deepEqual(canonical(again), canonical((await store.snapshot(id))!));
  });

  it('a step output of false or 0 is recorded as such, not as null', async () => {
    for (const output of [false, 0]) {
      const id = await start();
      await store.commit([ran((await store.claim(id, 's0', 1))!, { kind: 'succeeded', output })]);
      assert.equal(unitOf((await store.snapshot(id))!, 's0').output, output);
    }
  });

  it('a claimed unit whose job Redis lost is re-enqueued by the reconciler and runs the attempt already counted', async () => {
    const id = await start();
    await processNext(id); // a completes; its commit claims b (attempt 1)
    await queue.remove(`${id}-s1-1`);
    await t.sql`UPDATE saga_units SET due_at = now() - interval '10 seconds' WHERE saga_id = ${id} AND key = 's1'`;
    assert.ok((await t.app.get(SagaReconciler, { strict: false }).reconcile()) >= 1);
    const job = await processNext(id);
    assert.deepEqual([job.data.claimed, job.data.snapshot], [true, undefined], 'read back from Postgres');
    const [b] = await t.sql`SELECT status, attempts FROM saga_units WHERE saga_id = ${id} AND key = 's1'`;
    assert.deepEqual({ ...b }, { status: 'completed', attempts: 1 });
    assert.deepEqual(journal.handlers(id), ['a', 'b']);
  });

  it('a job carrying a snapshot but enqueued late is checked against Postgres: a recorded unit is not run again', async () => {
    const id = await start();
    await processNext(id); // a completes; its commit claims b
    const job = await processNext(id); // b runs from the snapshot and is recorded
    assert.ok(job.data.snapshot, 'the job carried the snapshot');
    // The same job again, as the committing worker's enqueue would arrive after losing a race with
    // the reconciler (which waits RECONCILE_GRACE_MS before enqueueing a unit itself).
    const late = {
      data: job.data,
      timestamp: job.data.committedAt! + RECONCILE_GRACE_MS,
      attemptsStarted: 1,
    } as Job<UnitJobData>;
    await t.app.get(StepWorker, { strict: false }).process(late);
    assert.deepEqual(journal.handlers(id), ['a', 'b']);
    assert.equal(await count(id, 'step_completed'), 2);
  });

  it('a cancel signalled before a claimed unit starts stops it: its handler never runs', async () => {
    const id = await start();
    await processNext(id); // a completes; its commit claims b
    const invoker = t.app.get(StepInvoker, { strict: false });
    await sagas.cancel(id);
    invoker.signalCancel(id); // what the cancellation bus delivers to every worker process
    await processNext(id); // b's job: the cancel is seen, b is not run, a is to be undone
    await processNext(id); // undoA
    const saga = (await t.http.get(`/sagas/${id}`)).body as SagaView;
    assert.equal(saga.status, 'compensated');
    assert.deepEqual(
      saga.steps!.map((s) => s.status),
      ['compensated', 'skipped', 'skipped', 'skipped'],
    );
    assert.deepEqual(journal.handlers(id), ['a', 'undoA']);
  });

  it('a cancel whose signal is lost lets the claimed unit run, then undoes it too', async () => {
    const id = await start();
    await processNext(id);
    await sagas.cancel(id); // no signal reaches this process: an api process does not subscribe
    await processNext(id); // b runs from the snapshot its job carries; recording it finds the cancel
    await processNext(id); // undoB
    await processNext(id); // undoA
    const saga = (await t.http.get(`/sagas/${id}`)).body as SagaView;
    assert.equal(saga.status, 'compensated');
    assert.deepEqual(
      saga.steps!.map((s) => s.status),
      ['compensated', 'compensated', 'skipped', 'skipped'],
    );
    assert.deepEqual(journal.handlers(id), ['a', 'b', 'undoB', 'undoA']);
  });

  it('a cancel racing a claim either stops the unit or waits for its outcome, never both', async () => {
    for (let i = 0; i < 10; i++) {
      const id = await start();
      const [claimed] = await Promise.all([store.claim(id, 's0', 1), sagas.cancel(id)]);
      if (claimed) {
        // The claim won: the cancel stops the saga, and the attempt's outcome is still recorded.
        const outcome = { kind: 'succeeded' as const, output: null };
        const stale = await store.commit([ran(claimed, outcome)]);
        assert.equal(stale.size, 0, 'a transition decided without the cancel is refused');
        const current = (await store.snapshot(id))!;
        const committed = await store.commit([ran(current, outcome)]);
        assert.ok(committed.has(id));
        const [row] = await t.sql`
          SELECT s.status, x.key, x.status AS unit_status FROM sagas s
          JOIN saga_units x ON x.saga_id = s.id AND x.kind = 'compensation' WHERE s.id = ${id}`;
        assert.deepEqual({ ...row }, { status: 'compensating', key: 'c0', unit_status: 'running' });
      } else {
        // The cancel won: the unit was never started and there is nothing to undo.
        const [row] = await t.sql`SELECT status FROM sagas WHERE id = ${id}`;
        assert.equal(row.status, 'compensated');
      }
    }
  });
});

describe('reconciler decision', () => {
  let t: TestApp;
  let queue: Queue;

  before(async () => {
    t = await startTestApp({ sagaModules: [ScriptedSagaModule], env: { SAGA_ROLE: 'api' } });
    queue = new Queue('saga-units', { connection: { url: 'redis://127.0.0.1:6379' }, prefix: t.queuePrefix });
  });
  after(async () => {
    await queue.close();
    await t.close();
  });

  it('re-enqueues exactly the overdue units that Redis does not hold', async () => {
    const sagas = t.app.get(SagaService, { strict: false });
    const ids = await Promise.all(
      Array.from({ length: 5 }, async () => (await sagas.start('scripted', { script: {} })).id),
    );
    await t.app.get(SagaDispatcher, { strict: false }).drain();
    const [lost, present, recent, future, finished] = ids;
    for (const id of [lost, recent, future, finished]) await queue.remove(`${id}-s0-1`);
    await t.sql`UPDATE saga_units SET due_at = now() - interval '10 seconds'
      WHERE saga_id IN ${t.sql([lost, present, finished])} AND key = 's0'`;
    await t.sql`UPDATE saga_units SET due_at = now() + interval '1 hour' WHERE saga_id = ${future} AND key = 's0'`;
    await t.sql`UPDATE sagas SET status = 'completed' WHERE id = ${finished}`;
    // `recent` is due just now, within the grace period a committing worker has to enqueue it (set
    // last: the statements above may take longer than the grace on a loaded machine).
    await t.sql`UPDATE saga_units SET due_at = now() WHERE saga_id = ${recent} AND key = 's0'`;

    const redriven = await t.app.get(SagaReconciler, { strict: false }).reconcile();
    assert.equal(redriven, 1);
    assert.ok(await queue.getJob(`${lost}-s0-1`), 'the lost unit is back');
    assert.ok(await queue.getJob(`${present}-s0-1`), 'the present unit is untouched');
    for (const id of [recent, future, finished]) assert.equal(await queue.getJob(`${id}-s0-1`), undefined);
  });
});
