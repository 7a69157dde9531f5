import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { SagaView } from '../../src/saga/index.js';
import { FlowSagasModule } from '../support/fixtures/flows.saga.js';
import { ChargeLedger, PatientChargeSagaModule } from '../support/fixtures/patient-charge.saga.js';
import { Journal } from '../support/fixtures/scripted.saga.js';
import type { HttpResponse } from '../support/http-client.js';
import { eventsOf, waitForSaga } from '../support/sagas.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { waitFor } from '../support/wait.js';

// DESIGN.md "Routes added by ... operations work": step retry, step skip, bulk cancel and retry,
// through the running app, with what each changes in Postgres.

const UNKNOWN_ID = '00000000-0000-7000-8000-000000000000';

function assertError(response: HttpResponse, status: number, message: string | RegExp): void {
  assert.equal(response.status, status, response.text);
  const { statusCode, error, message: actual, ...rest } = response.body;
  assert.equal(statusCode, status);
  assert.equal(typeof error, 'string');
  if (typeof message === 'string') assert.equal(actual, message);
  else assert.match(actual, message);
  assert.deepEqual(
    Object.keys(rest).filter((k) => k !== 'issues'),
    [],
  );
  assert.doesNotMatch(response.text, /\bat .*\.js:\d+/, 'no stack trace');
}

describe('operator actions', () => {
  let t: TestApp;
  let journal: Journal;
  let ledger: ChargeLedger;

  before(async () => {
    t = await startTestApp({ sagaModules: [FlowSagasModule, PatientChargeSagaModule] });
    journal = t.app.get(Journal);
    ledger = t.app.get(ChargeLedger);
  });
  after(() => t.close());

  async function start(name: string, input: object = {}, query = ''): Promise<string> {
    const started = await t.http.post(`/sagas/${name}${query}`, input);
    assert.equal(started.status, 202, started.text);
    return started.body.id as string;
  }

  const step = (saga: SagaView, name: string) => saga.steps!.find((s) => s.name === name)!;
  const unitRow = async (id: string, key: string) =>
    (await t.sql`SELECT * FROM saga_units WHERE saga_id = ${id} AND key = ${key}`)[0];

  /** A patient-charge saga whose charge failed once and waits out its one-minute backoff. */
  async function chargeBetweenAttempts(): Promise<string> {
    const id = await start('patient-charge');
    await waitFor(
      async () => {
        const { body } = await t.http.get<SagaView>(`/sagas/${id}`);
        const charge = step(body, 'charge');
        return charge.status === 'pending' && charge.attempts === 1 && charge.dueAt ? true : undefined;
      },
      { what: 'charge to wait out its backoff' },
    );
    return id;
  }

  /** A scripted saga whose b failed for good and whose undoA failed twice (its budget): a dead letter. */
  async function deadLetter(): Promise<string> {
    const id = await start('scripted', { script: { b: ['fatal'], undoA: ['fail', 'fail', 'ok'] } });
    assert.equal((await waitForSaga(t.http, id)).status, 'failed');
    return id;
  }

  describe('POST /sagas/{id}/steps/{step}/retry', () => {
    it('202: a step waiting out its backoff runs now, once; the next backoff follows its failure', async () => {
      const id = await chargeBetweenAttempts();
      const before = await unitRow(id, 's1');
      const response = await t.http.post(`/sagas/${id}/steps/charge/retry`);
      assert.equal(response.status, 202, response.text);
      assert.deepEqual(response.body, { id, name: 'patient-charge', status: 'running' });
      await waitFor(async () => (ledger.handlers(id).length === 3 ? true : undefined), {
        timeoutMs: 10_000,
        what: 'the second attempt, long before the backoff ends',
      });
      assert.deepEqual(ledger.handlers(id), ['reserve', 'charge', 'charge']);
      assert.equal((await unitRow(id, 's1')).attempts, 2);
      const events = await eventsOf(t.http, id);
      const retried = events.find((e) => e.type === 'step_retried')!;
      assert.deepEqual(
        { step: retried.step, attempt: retried.attempt, data: retried.data },
        { step: 'charge', attempt: 1, data: { unit: 'step' } },
      );
      const row = await unitRow(id, 's1');
      assert.ok(row.seq > before.seq, 'a new job: the old delayed one is stale');
      await t.http.post(`/sagas/${id}/cancel`);
      await waitForSaga(t.http, id);
    });

    it("202: in a failed saga, that step's failed compensation runs again with a fresh budget", async () => {
      const id = await deadLetter();
      assertError(
        await t.http.post(`/sagas/${id}/steps/b/retry`),
        409,
        `Step "b" of saga ${id} has nothing to retry: it does not wait out a retry backoff, and its compensation is not a dead letter`,
      );
      const response = await t.http.post(`/sagas/${id}/steps/a/retry`);
      assert.equal(response.status, 202, response.text);
      assert.deepEqual(response.body, { id, name: 'scripted', status: 'compensating' });
      const saga = await waitForSaga(t.http, id);
      assert.equal(saga.status, 'compensated');
      assert.deepEqual(step(saga, 'a').compensation?.status, 'completed');
      assert.equal(step(saga, 'a').compensation?.attempts, 1, 'a fresh budget, one attempt of it used');
      assert.deepEqual(journal.handlers(id).filter((h) => h === 'undoA').length, 3);
      const retried = (await eventsOf(t.http, id)).filter((e) => e.type === 'step_retried');
      assert.deepEqual(
        retried.map((e) => [e.step, e.data]),
        [['a', { unit: 'compensation' }]],
      );
      assertError(await t.http.post(`/sagas/${id}/steps/a/retry`), 409, /has nothing to retry/);
    });

    it('409 for a completed step; 404 for an unknown step or saga; 400 for a malformed id', async () => {
      const id = await start('scripted');
      await waitForSaga(t.http, id);
      const eventsBefore = (await eventsOf(t.http, id)).length;
      assertError(await t.http.post(`/sagas/${id}/steps/a/retry`), 409, /has nothing to retry/);
      assertError(
        await t.http.post(`/sagas/${id}/steps/nope/retry`),
        404,
        `Saga ${id} ("scripted") has no step "nope"`,
      );
      assertError(
        await t.http.post(`/sagas/${UNKNOWN_ID}/steps/a/retry`),
        404,
        `No saga has id ${UNKNOWN_ID}`,
      );
      assertError(await t.http.post(`/sagas/not-an-id/steps/a/retry`), 400, 'Invalid saga id');
      assert.equal((await eventsOf(t.http, id)).length, eventsBefore, 'refusals write nothing');
    });
  });

  describe('POST /sagas/{id}/steps/{step}/skip', () => {
    it('202: a step between attempts completes with the output given; the saga goes on; event step_skipped', async () => {
      const id = await chargeBetweenAttempts();
      const response = await t.http.post(`/sagas/${id}/steps/charge/skip`, {
        output: { charged: 'by phone' },
        reason: 'customer paid by phone',
      });
      assert.equal(response.status, 202, response.text);
      assert.equal(response.body.id, id);
      const saga = await waitForSaga(t.http, id);
      assert.equal(saga.status, 'completed');
      assert.deepEqual((saga.output as Record<string, unknown>).charge, { charged: 'by phone' });
      const charge = step(saga, 'charge');
      assert.equal(charge.status, 'skipped');
      assert.deepEqual(charge.output, { charged: 'by phone' });
      assert.equal(charge.error, undefined);
      assert.equal(charge.dueAt, undefined);
      assert.deepEqual(ledger.handlers(id), ['reserve', 'charge'], 'the handler ran no more');
      const skipped = (await eventsOf(t.http, id)).find((e) => e.type === 'step_skipped')!;
      assert.deepEqual([skipped.step, skipped.data], ['charge', { reason: 'customer paid by phone' }]);
      const row = await unitRow(id, 's1');
      assert.equal(row.status, 'skipped');
      assert.equal(row.due_at, null);
    });

    it('202 without a body: a step waiting for a signal completes with null; its handler never runs', async () => {
      const id = await start('approval');
      await waitForSaga(t.http, id, ['running', 'pending']);
      await waitFor(async () => {
        const { body } = await t.http.get<SagaView>(`/sagas/${id}`);
        return step(body, 'approval').status === 'waiting' ? true : undefined;
      });
      const response = await t.http.request('POST', `/sagas/${id}/steps/approval/skip`);
      assert.equal(response.status, 202, response.text);
      const saga = await waitForSaga(t.http, id);
      assert.equal(saga.status, 'completed');
      assert.equal(step(saga, 'approval').status, 'skipped');
      assert.deepEqual(journal.handlers(id), ['prepare', 'finish']);
      const late = await t.http.post(`/sagas/${id}/signals/approval`, { approved: true, by: 'late' });
      assertError(late, 409, /already completed/);
    });

    it('a skipped step is not compensated when a later step fails', async () => {
      const id = await start('scripted', { script: { b: ['sleep'], c: ['fatal'] } });
      await waitFor(async () => ((await unitRow(id, 's1')).status === 'running' ? true : undefined));
      // b's attempt is running: refused, and nothing changes.
      assertError(
        await t.http.post(`/sagas/${id}/steps/b/skip`, {}),
        409,
        `Step "b" of saga ${id} cannot be skipped: an attempt of it is running; skip it once that attempt ends`,
      );
      // c is not reached yet: skipped ahead of time, with its compensateOnFailure irrelevant.
      assert.equal((await t.http.post(`/sagas/${id}/steps/c/skip`, { output: 'later' })).status, 202);
      assert.equal((await unitRow(id, 's2')).status, 'skipped');
      await t.http.post(`/sagas/${id}/cancel`);
      const saga = await waitForSaga(t.http, id);
      assert.equal(saga.status, 'compensated');
      assert.equal(step(saga, 'c').status, 'skipped');
      assert.equal(step(saga, 'c').compensation, undefined);
      assert.ok(!journal.handlers(id).includes('undoC'));
      assert.ok(!journal.handlers(id).includes('c'));
      assert.ok(journal.handlers(id).includes('undoA'));
    });

    it('409 for a completed step, a terminal saga and a saga not started; 404 unknown; 400 bad body', async () => {
      const done = await start('scripted');
      await waitForSaga(t.http, done);
      assertError(
        await t.http.post(`/sagas/${done}/steps/a/skip`, {}),
        409,
        `Step "a" of saga ${done} cannot be skipped: the saga is completed: it no longer runs forward`,
      );
      const later = await start('scripted', {}, '?delayMs=3600000');
      assertError(
        await t.http.post(`/sagas/${later}/steps/a/skip`, {}),
        409,
        `Step "a" of saga ${later} cannot be skipped: the saga has not started yet`,
      );
      assertError(await t.http.post(`/sagas/${later}/steps/zzz/skip`, {}), 404, /has no step "zzz"/);
      assertError(await t.http.post(`/sagas/${UNKNOWN_ID}/steps/a/skip`, {}), 404, /No saga has id/);
      const bad: [unknown, RegExp][] = [
        [[1, 2], /Request body must be a JSON object, received an array/],
        [{ output: 1, extra: true }, /Invalid body/],
        [{ reason: '' }, /Invalid body/],
        [{ reason: 7 }, /Invalid body/],
        [{ output: { text: 'nul \u0000 here' } }, /Invalid output of step "a"/],
      ];
      for (const [body, message] of bad) {
        const response = await t.http.post(`/sagas/${later}/steps/a/skip`, body);
        assertError(response, 400, message);
      }
      assertError(
        await t.http.request('POST', `/sagas/${later}/steps/a/skip`, {
          body: '{"output":',
          headers: { 'content-type': 'application/json' },
        }),
        400,
        'Request body is not valid JSON',
      );
      const [row] = await t.sql`SELECT status, seq FROM sagas WHERE id = ${later}`;
      assert.deepEqual({ ...row }, { status: 'pending', seq: 1 }, 'refusals change nothing');
      await t.http.post(`/sagas/${later}/cancel`);
    });
  });

  describe('POST /sagas/actions/cancel and /sagas/actions/retry', () => {
    it('cancel: 202 { matched } for every matching pending or running saga, and nothing else', async () => {
      const createdAfter = new Date().toISOString();
      const charges = [await chargeBetweenAttempts(), await chargeBetweenAttempts()];
      const other = await start('approval');
      const response = await t.http.post('/sagas/actions/cancel', { name: 'patient-charge', createdAfter });
      assert.equal(response.status, 202, response.text);
      assert.deepEqual(response.body, { matched: 2 });
      for (const id of charges) {
        const saga = await waitForSaga(t.http, id);
        assert.equal(saga.status, 'compensated');
        assert.equal(saga.error?.name, 'SagaCancelled');
      }
      const [row] = await t.sql`SELECT status, cancel_requested FROM sagas WHERE id = ${other}`;
      assert.equal(row.cancel_requested, false);
      assert.ok(['pending', 'running'].includes(row.status));
      // They are no longer running: nothing matches now.
      assert.deepEqual(
        (await t.http.post('/sagas/actions/cancel', { name: 'patient-charge', createdAfter })).body,
        {
          matched: 0,
        },
      );
      await t.http.post(`/sagas/${other}/cancel`);
    });

    it('retry: 202 { matched } for every matching failed saga; each resumes its compensation', async () => {
      const createdAfter = new Date().toISOString();
      const letters = [await deadLetter(), await deadLetter()];
      const response = await t.http.post('/sagas/actions/retry', { status: 'failed', createdAfter });
      assert.equal(response.status, 202, response.text);
      assert.deepEqual(response.body, { matched: 2 });
      for (const id of letters) assert.equal((await waitForSaga(t.http, id)).status, 'compensated');
      assert.deepEqual((await t.http.post('/sagas/actions/retry', { createdAfter })).body, { matched: 0 });
    });

    it('cancels a thousand matches, one saga per transaction, within the time window given', async () => {
      const createdAfter = new Date().toISOString();
      const ids: string[] = [];
      for (let i = 0; i < 20; i++) {
        const batch = await Promise.all(
          Array.from({ length: 50 }, () => t.http.post('/sagas/gate?delayMs=3600000', {})),
        );
        ids.push(...batch.map((r) => r.body.id as string));
      }
      await sleep(5);
      const createdBefore = new Date().toISOString();
      await sleep(5);
      const outside = await start('gate', {}, '?delayMs=3600000');
      const began = Date.now();
      const response = await t.http.post('/sagas/actions/cancel', {
        name: 'gate',
        createdAfter,
        createdBefore,
      });
      assert.equal(response.status, 202, response.text);
      assert.equal(response.body.matched, 1000, `took ${Date.now() - began} ms`);
      const counts = await t.sql`
        SELECT status, count(*)::int AS n FROM sagas WHERE id = ANY(${ids}::uuid[]) GROUP BY status`;
      assert.deepEqual(
        counts.map((r) => [r.status, r.n]),
        [['compensated', 1000]],
      );
      const cancelled = await t.sql`
        SELECT count(*)::int AS n FROM saga_events WHERE saga_id = ANY(${ids}::uuid[]) AND type = 'cancel_requested'`;
      assert.equal(cancelled[0].n, 1000);
      const [untouched] = await t.sql`SELECT status, cancel_requested FROM sagas WHERE id = ${outside}`;
      assert.deepEqual({ ...untouched }, { status: 'pending', cancel_requested: false });
      await t.http.post(`/sagas/${outside}/cancel`);
    });

    it('400 without a filter, or with a bad one; nothing changes', async () => {
      const id = await start('gate', {}, '?delayMs=3600000');
      const cases: [string, unknown, RegExp][] = [
        ['cancel', {}, /Invalid filter/],
        ['retry', {}, /Invalid filter/],
        ['cancel', undefined, /Request body must be a JSON object, received no body/],
        ['cancel', [], /received an array/],
        ['cancel', { status: 'completed' }, /Invalid filter/],
        ['retry', { status: 'running' }, /Invalid filter/],
        ['cancel', { name: 5 }, /Invalid filter/],
        ['cancel', { name: '' }, /Invalid filter/],
        ['cancel', { createdBefore: 'yesterday' }, /Invalid filter/],
        ['retry', { name: 'gate', limit: 5 }, /Invalid filter/],
      ];
      for (const [action, body, message] of cases) {
        const response =
          body === undefined
            ? await t.http.request('POST', `/sagas/actions/${action}`)
            : await t.http.post(`/sagas/actions/${action}`, body);
        assertError(response, 400, message);
      }
      const empty = await t.http.post('/sagas/actions/cancel', {});
      assert.deepEqual(empty.body.issues, [
        { path: '', message: 'give at least one filter: name, status, createdAfter or createdBefore' },
      ]);
      const status = await t.http.post('/sagas/actions/retry', { status: 'running' });
      assert.deepEqual(status.body.issues, [
        { path: 'status', message: 'must be "failed": the statuses this action applies to' },
      ]);
      const [row] = await t.sql`SELECT status, cancel_requested FROM sagas WHERE id = ${id}`;
      assert.deepEqual({ ...row }, { status: 'pending', cancel_requested: false });
      await t.http.post(`/sagas/${id}/cancel`);
    });
  });
});
