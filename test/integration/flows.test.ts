import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { SagaView } from '../../src/saga/index.js';
import { FlowSagasModule } from '../support/fixtures/flows.saga.js';
import { Journal } from '../support/fixtures/scripted.saga.js';
import { eventsOf, waitForSaga } from '../support/sagas.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { waitFor } from '../support/wait.js';

/** Parallel groups, waits for signals, child sagas, deadlines and scheduled starts, through the running app. */
describe('sagas that branch, wait and nest', () => {
  let t: TestApp;
  let journal: Journal;

  before(async () => {
    t = await startTestApp({ sagaModules: [FlowSagasModule] });
    journal = t.app.get(Journal);
  });
  after(() => t.close());

  async function start(name: string, input: object, query = ''): Promise<string> {
    const started = await t.http.post(`/sagas/${name}${query}`, input);
    assert.equal(started.status, 202, started.text);
    return started.body.id as string;
  }

  const calls = (id: string, handler: string) => journal.of(id).filter((e) => e.handler === handler);
  const step = (saga: SagaView, name: string) => saga.steps!.find((s) => s.name === name)!;

  describe('a parallel group', () => {
    it('runs its steps at once, and the next step once all have completed', async () => {
      const id = await start('parallel', {
        script: { b: ['slow'], c: ['slow'], d: ['slow'] },
        slowMs: 1000,
      });
      const saga = await waitForSaga(t.http, id);
      assert.equal(saga.status, 'completed');
      const [b, c, d] = ['b', 'c', 'd'].map((h) => calls(id, h)[0].at);
      // Each took 1 s; run one after another they would span 2 s before the last began.
      assert.ok(Math.max(b, c, d) - Math.min(b, c, d) < 1000, `started ${b}, ${c}, ${d}`);
      assert.ok(calls(id, 'e')[0].at >= Math.max(b, c, d) + 1000, 'e waited for the whole group');
      assert.deepEqual(
        saga.steps!.map((s) => [s.name, s.kind, s.group ?? null, s.status]),
        [
          ['a', 'task', null, 'completed'],
          ['b', 'task', 'g', 'completed'],
          ['c', 'task', 'g', 'completed'],
          ['d', 'task', 'g', 'completed'],
          ['e', 'task', null, 'completed'],
        ],
      );
    });

    it('a final failure aborts the running siblings, awaits them, and compensates in reverse order of completion', async () => {
      // c completes at once, d hangs until aborted, b fails for good on its second attempt, after c completed.
      const id = await start('parallel', { script: { b: ['fail', 'fatal'], c: ['ok'], d: ['hang'] } });
      const saga = await waitForSaga(t.http, id);
      assert.equal(saga.status, 'compensated');
      assert.equal(saga.error?.name, 'NonRetryableError');
      assert.equal(calls(id, 'd')[0].aborted, 'SagaCancelled');
      // d failed (aborted) after b failed: it compensates its own failure, then c, then a.
      const undone = journal.handlers(id).filter((h) => h.startsWith('undo'));
      assert.deepEqual(undone, ['undoD', 'undoC', 'undoA']);
      assert.deepEqual(
        saga.steps!.map((s) => [s.name, s.status]),
        [
          ['a', 'compensated'],
          ['b', 'failed'],
          ['c', 'compensated'],
          ['d', 'compensated'],
          ['e', 'skipped'],
        ],
      );
      // Nothing was compensated before d's outcome was in (invariant 4).
      const events = await eventsOf(t.http, id);
      const dFailed = events.findIndex((e) => e.type === 'step_failed' && e.step === 'd');
      const firstUndo = events.findIndex((e) => e.type === 'compensation_started');
      assert.ok(dFailed >= 0 && dFailed < firstUndo, 'the sibling ended before any compensation started');
    });
  });

  describe('a wait for a signal', () => {
    const signal = (id: string, body: unknown, key?: string) =>
      t.http.post(`/sagas/${id}/signals/approval`, body, key ? { 'idempotency-key': key } : {});

    it('waits, shows what it waits for, and runs its handler on the payload once it arrives', async () => {
      const id = await start('approval', {});
      const waiting = await waitForSaga(t.http, id, ['running'], 5000);
      await waitFor(async () =>
        step((await t.http.get(`/sagas/${id}`)).body, 'approval').status === 'waiting' ? true : undefined,
      );
      const view = (await t.http.get(`/sagas/${id}`)).body as SagaView;
      assert.equal(waiting.status, 'running');
      assert.deepEqual(
        { kind: step(view, 'approval').kind, waitingFor: step(view, 'approval').waitingFor },
        { kind: 'wait', waitingFor: 'approval' },
      );
      const sent = await signal(id, { approved: true, by: 'ops' });
      assert.equal(sent.status, 202);
      assert.deepEqual(sent.body, { id, signal: 'approval', status: 'accepted' });
      const saga = await waitForSaga(t.http, id);
      assert.equal(saga.status, 'completed');
      assert.deepEqual(step(saga, 'approval').output, { approved: true, by: 'ops' });
    });

    it('keeps a signal that arrives before the step waits, and the step takes it', async () => {
      const id = await start('approval', { script: { prepare: ['slow'] } });
      assert.equal((await signal(id, { approved: true, by: 'early' })).status, 202);
      const saga = await waitForSaga(t.http, id);
      assert.equal(saga.status, 'completed');
      assert.deepEqual(step(saga, 'approval').output, { approved: true, by: 'early' });
      const types = (await eventsOf(t.http, id)).map((e) => e.type);
      assert.ok(!types.includes('step_waiting'), 'it never waited');
    });

    it('delivers once per Idempotency-Key: the same key again answers 200 and changes nothing', async () => {
      const id = await start('approval', { script: { prepare: ['slow'] } });
      assert.equal((await signal(id, { approved: true, by: 'a' }, 'k-1')).status, 202);
      const again = await signal(id, { approved: false, by: 'b' }, 'k-1');
      assert.equal(again.status, 200);
      assert.deepEqual(again.body, { id, signal: 'approval', status: 'accepted' });
      const saga = await waitForSaga(t.http, id);
      assert.deepEqual(step(saga, 'approval').output, { approved: true, by: 'a' });
      const [{ count }] = await t.sql`SELECT count(*)::int AS count FROM saga_signals WHERE saga_id = ${id}`;
      assert.equal(count, 1);
    });

    it('a rejection fails the step and compensates; the signal after the end is refused with 409', async () => {
      const id = await start('approval', {});
      await waitFor(async () => (calls(id, 'prepare').length ? true : undefined));
      assert.equal((await signal(id, { approved: false, by: 'ops' })).status, 202);
      const saga = await waitForSaga(t.http, id);
      assert.equal(saga.status, 'compensated');
      assert.deepEqual(saga.error, {
        name: 'NonRetryableError',
        message: 'rejected by ops',
        retryable: false,
      });
      assert.deepEqual(journal.handlers(id), ['prepare', 'approval', 'unprepare']);
      const late = await signal(id, { approved: true, by: 'late' });
      assert.equal(late.status, 409);
      assert.deepEqual(Object.keys(late.body).sort(), ['error', 'message', 'statusCode']);
    });

    it('times out with SignalTimeout and compensates', async () => {
      const id = await start('approval', { timeoutMs: 300 });
      const saga = await waitForSaga(t.http, id, undefined, 10_000);
      assert.equal(saga.status, 'compensated');
      assert.equal(saga.error?.name, 'SignalTimeout');
      assert.equal(step(saga, 'approval').error?.name, 'SignalTimeout');
      assert.deepEqual(journal.handlers(id), ['prepare', 'unprepare']);
    });

    it('refuses a bad payload (400 with issues), an undeclared signal and an unknown saga (404), writing nothing', async () => {
      const id = await start('approval', { script: { prepare: ['slow'] } });
      const bad = await signal(id, { approved: 'yes' });
      assert.equal(bad.status, 400);
      assert.deepEqual(bad.body.issues.map((i: { path: string }) => i.path).sort(), ['approved', 'by']);
      const notAnObject = await signal(id, [1]);
      assert.equal(notAnObject.status, 400);
      const undeclared = await t.http.post(`/sagas/${id}/signals/payment`, { ok: true });
      assert.equal(undeclared.status, 404);
      assert.match(undeclared.body.message, /declares no signal "payment"/);
      const unknown = await t.http.post(`/sagas/01a2186d-e6e6-749d-9ba7-7051b7957abe/signals/approval`, {
        approved: true,
        by: 'x',
      });
      assert.equal(unknown.status, 404);
      const [{ count }] = await t.sql`SELECT count(*)::int AS count FROM saga_signals WHERE saga_id = ${id}`;
      assert.equal(count, 0);
      await signal(id, { approved: true, by: 'ops' });
      assert.equal((await waitForSaga(t.http, id)).status, 'completed');
    });

    it('a first step that waits does so from the start: pending until its signal comes', async () => {
      const id = await start('gate', {});
      const waiting = (await t.http.get(`/sagas/${id}`)).body as SagaView;
      assert.equal(waiting.status, 'pending');
      assert.deepEqual([step(waiting, 'gate').status, step(waiting, 'gate').waitingFor], ['waiting', 'open']);
      assert.ok(step(waiting, 'gate').dueAt, 'its timeout is due');
      assert.equal((await t.http.post(`/sagas/${id}/signals/open`, { by: 'ops' })).status, 202);
      const saga = await waitForSaga(t.http, id);
      assert.equal(saga.status, 'completed');
      assert.deepEqual(saga.output, { gate: { by: 'ops' }, through: 'through' });
    });

    it('a repeated Idempotency-Key answers 200, even once the saga has ended', async () => {
      const id = await start('gate', {});
      assert.equal(
        (await t.http.post(`/sagas/${id}/signals/open`, { by: 'a' }, { 'idempotency-key': 'k' })).status,
        202,
      );
      await waitForSaga(t.http, id);
      // The same delivery again: already delivered, not refused because the saga ended since.
      const again = await t.http.post(`/sagas/${id}/signals/open`, { by: 'b' }, { 'idempotency-key': 'k' });
      assert.equal(again.status, 200);
    });

    it('a cancel while waiting stops the wait: nothing to undo but what completed', async () => {
      const id = await start('approval', {});
      await waitFor(async () =>
        step((await t.http.get(`/sagas/${id}`)).body, 'approval').status === 'waiting' ? true : undefined,
      );
      assert.equal((await t.http.post(`/sagas/${id}/cancel`)).status, 202);
      const saga = await waitForSaga(t.http, id);
      assert.equal(saga.status, 'compensated');
      assert.equal(saga.error?.name, 'SagaCancelled');
      assert.deepEqual(
        saga.steps!.map((s) => s.status),
        ['compensated', 'skipped', 'skipped'],
      );
    });
  });

  describe('a child saga', () => {
    it('runs as a step: started once, awaited, and its output is the step output', async () => {
      const id = await start('parent', {});
      const saga = await waitForSaga(t.http, id);
      assert.equal(saga.status, 'completed');
      const childStep = step(saga, 'child');
      assert.equal(childStep.kind, 'child');
      assert.ok(childStep.childId);
      assert.deepEqual(saga.children, [
        { id: childStep.childId, name: 'scripted', status: 'completed', step: 'child' },
      ]);
      const child = (await t.http.get(`/sagas/${childStep.childId}`)).body as SagaView;
      assert.equal(child.parentId, id);
      assert.equal(child.status, 'completed');
      assert.deepEqual(childStep.output, child.output);
      const listed = await t.http.get(`/sagas?parentId=${id}`);
      assert.deepEqual(
        listed.body.items.map((s: SagaView) => s.id),
        [childStep.childId],
      );
      assert.equal(calls(id, 'child').length, 1);
    });

    it('a child that compensates fails the step with ChildSagaFailed, and the parent compensates', async () => {
      const id = await start('parent', { child: { c: ['fatal'] } });
      const saga = await waitForSaga(t.http, id);
      assert.equal(saga.status, 'compensated');
      assert.equal(saga.error?.name, 'ChildSagaFailed');
      const child = (await t.http.get(`/sagas/${step(saga, 'child').childId}`)).body as SagaView;
      assert.equal(child.status, 'compensated');
      assert.deepEqual(journal.handlers(id), ['before', 'child', 'undoBefore']);
    });

    it('compensating the step that ran a completed child compensates the child', async () => {
      const id = await start('parent', { script: { after: ['fatal'] } });
      const saga = await waitForSaga(t.http, id);
      assert.equal(saga.status, 'compensated');
      assert.equal(step(saga, 'child').status, 'compensated');
      const childId = step(saga, 'child').childId!;
      const child = (await t.http.get(`/sagas/${childId}`)).body as SagaView;
      assert.equal(child.status, 'compensated');
      assert.deepEqual(journal.handlers(childId), ['a', 'b', 'c', 'd', 'undoC', 'undoB', 'undoA']);
      // The parent undid `before` only after its child had been compensated.
      const undoBefore = calls(id, 'undoBefore')[0].at;
      assert.ok(calls(childId, 'undoA')[0].at <= undoBefore);
    });

    it('cancelling the parent cancels its running child, which compensates, then the parent compensates', async () => {
      const id = await start('parent', { child: { b: ['hang'] } });
      await waitFor(async () => {
        const view = (await t.http.get(`/sagas/${id}`)).body as SagaView;
        const childId = step(view, 'child').childId;
        return childId && journal.handlers(childId).includes('b') ? true : undefined;
      });
      assert.equal((await t.http.post(`/sagas/${id}/cancel`)).status, 202);
      const saga = await waitForSaga(t.http, id);
      assert.equal(saga.status, 'compensated');
      assert.equal(saga.error?.name, 'SagaCancelled');
      const child = (await t.http.get(`/sagas/${step(saga, 'child').childId}`)).body as SagaView;
      assert.equal(child.status, 'compensated');
      assert.equal(child.error?.name, 'SagaCancelled');
      assert.deepEqual(journal.handlers(id), ['before', 'child', 'undoBefore']);
    });
  });

  describe('deadlines and scheduled starts', () => {
    it('a deadline that passes while the saga waits cancels it with DeadlineExceeded', async () => {
      const id = await start('approval', {}, '?deadlineMs=400');
      const pending = (await t.http.get(`/sagas/${id}`)).body as SagaView;
      assert.ok(pending.deadlineAt);
      const saga = await waitForSaga(t.http, id, undefined, 10_000);
      assert.equal(saga.status, 'compensated');
      assert.equal(saga.error?.name, 'DeadlineExceeded');
      assert.deepEqual(journal.handlers(id), ['prepare', 'unprepare']);
    });

    it('a delayed start waits pending with its startAt, then runs', async () => {
      const before = Date.now();
      const id = await start('parallel', {}, '?delayMs=700');
      const pending = (await t.http.get(`/sagas/${id}`)).body as SagaView;
      assert.equal(pending.status, 'pending');
      assert.ok(Date.parse(pending.startAt!) >= before + 650, pending.startAt);
      const saga = await waitForSaga(t.http, id, undefined, 10_000);
      assert.equal(saga.status, 'completed');
      assert.ok(calls(id, 'a')[0].at >= before + 650);
    });

    it('a start up to a year ahead, with its deadline after that', async () => {
      const year = 365 * 86_400_000;
      const id = await start('parallel', {}, `?delayMs=${year}&deadlineMs=${7 * 86_400_000}`);
      const saga = (await t.http.get(`/sagas/${id}`)).body as SagaView;
      assert.equal(saga.status, 'pending');
      assert.ok(Math.abs(Date.parse(saga.startAt!) - Date.now() - year) < 60_000, saga.startAt);
      assert.ok(Date.parse(saga.deadlineAt!) > Date.parse(saga.startAt!));
      assert.equal((await t.http.post(`/sagas/${id}/cancel`)).status, 202);
    });

    it('a cancel before the start ends it compensated with nothing to undo', async () => {
      const startAt = new Date(Date.now() + 3_600_000).toISOString();
      const id = await start('parallel', {}, `?startAt=${encodeURIComponent(startAt)}`);
      assert.equal(((await t.http.get(`/sagas/${id}`)).body as SagaView).startAt, startAt);
      assert.equal((await t.http.post(`/sagas/${id}/cancel`)).status, 202);
      const saga = (await t.http.get(`/sagas/${id}`)).body as SagaView;
      assert.equal(saga.status, 'compensated');
      assert.ok(saga.steps!.every((s) => s.status === 'skipped'));
      assert.deepEqual(journal.handlers(id), []);
    });

    it('refuses bad or conflicting start options with 400, writing nothing', async () => {
      const [{ count: before }] = await t.sql`SELECT count(*)::int AS count FROM sagas`;
      const inAYearAndADay = new Date(Date.now() + 366 * 86_400_000).toISOString();
      for (const query of [
        '?delayMs=-1',
        '?delayMs=1.5',
        `?delayMs=${366 * 86_400_000}`,
        '?delayMs=10&startAt=2030-01-01T00:00:00Z',
        '?startAt=tomorrow',
        `?startAt=${inAYearAndADay}`,
        '?deadlineMs=99',
        '?unknown=1',
      ]) {
        const response = await t.http.post(`/sagas/parallel${query}`, {});
        assert.equal(response.status, 400, `${query}: ${response.text}`);
        assert.ok(Array.isArray(response.body.issues), query);
      }
      const [{ count: after }] = await t.sql`SELECT count(*)::int AS count FROM sagas`;
      assert.equal(after, before);
    });
  });
});
