import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { SagaView } from '../../src/saga/index.js';
import { KeyedSagaModule } from '../support/fixtures/keyed.saga.js';
import { Journal } from '../support/fixtures/scripted.saga.js';
import { assertOneAtATime, runOf } from '../support/key-runs.js';
import { waitForSaga } from '../support/sagas.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { waitFor } from '../support/wait.js';

/** One running saga per concurrency key, through the running app: queueing, cancels, deadlines, scheduled starts. */
describe('one running saga per concurrency key', () => {
  let t: TestApp;
  let journal: Journal;

  before(async () => {
    t = await startTestApp({ sagaModules: [KeyedSagaModule] });
    journal = t.app.get(Journal);
  });
  after(() => t.close());

  async function start(name: string, input: object, query = ''): Promise<string> {
    const started = await t.http.post(`/sagas/${name}${query}`, input);
    assert.equal(started.status, 202, started.text);
    assert.equal(started.body.status, 'pending');
    return started.body.id as string;
  }

  const view = async (id: string) => (await t.http.get(`/sagas/${id}`)).body as SagaView;
  const holders = async () => [
    ...(await t.sql`SELECT name, key, saga_id AS "sagaId" FROM saga_key_holders ORDER BY name, key`),
  ];
  const holderOf = async (key: string) =>
    (await t.sql`SELECT saga_id FROM saga_key_holders WHERE name = 'keyed' AND key = ${key}`)[0]?.saga_id;

  /** The value of a `/metrics` gauge for saga `saga`. */
  async function gauge(name: string, saga: string): Promise<number | undefined> {
    const { text } = await t.http.get('/metrics');
    const line = text.split('\n').find((l) => l.startsWith(`${name}{saga="${saga}"}`));
    return line === undefined ? undefined : Number(line.split(' ').pop());
  }

  /** Its handler `a` runs (the script says `sleep`: until its signal aborts). */
  const running = (id: string) =>
    waitFor(async () => (journal.of(id).some((e) => e.handler === 'a') ? true : undefined), {
      what: `step a of ${id} to run`,
    });

  it('queues the sagas of a key behind the one that runs, pending, and counts them; another key runs at once', async () => {
    const holder = await start('keyed', { key: 'k1', script: { a: ['sleep'] } });
    await running(holder);
    const first = await start('keyed', { key: 'k1' });
    const second = await start('keyed', { key: 'k1' });
    const other = await start('keyed', { key: 'k2' });
    assert.equal((await waitForSaga(t.http, other)).status, 'completed');

    for (const id of [first, second]) {
      const queued = await view(id);
      assert.equal(queued.status, 'pending');
      assert.deepEqual(
        queued.steps!.map((s) => [s.name, s.status, s.attempts]),
        [
          ['a', 'pending', 0],
          ['b', 'pending', 0],
        ],
      );
      assert.deepEqual(journal.handlers(id), []);
    }
    assert.equal(await holderOf('k1'), holder);
    assert.equal(await holderOf('k2'), undefined, 'a key is freed when its holder ends');
    assert.equal(await gauge('saga_waiting_for_key', 'keyed'), 2);
    assert.equal(await gauge('saga_key_holders', 'keyed'), 1);
    assert.equal(await gauge('saga_waiting_for_key', 'keyed-wait'), 0);

    // A queued saga cancelled ends compensated with nothing to undo, and leaves the key to its holder.
    assert.equal((await t.http.post(`/sagas/${first}/cancel`)).status, 202);
    const cancelled = await waitForSaga(t.http, first);
    assert.equal(cancelled.status, 'compensated');
    assert.equal(cancelled.error?.name, 'SagaCancelled');
    assert.ok(cancelled.steps!.every((s) => s.status === 'skipped'));
    assert.equal(await holderOf('k1'), holder);
    assert.equal((await view(second)).status, 'pending');
    assert.equal(await gauge('saga_waiting_for_key', 'keyed'), 1);

    // The holder's end hands the key to the next in start order.
    assert.equal((await t.http.post(`/sagas/${holder}/cancel`)).status, 202);
    assert.equal((await waitForSaga(t.http, holder)).status, 'compensated');
    assert.equal((await waitForSaga(t.http, second)).status, 'completed');
    assertOneAtATime([await runOf(t.http, holder), await runOf(t.http, second)]);
    assert.deepEqual(await holders(), []);
    assert.equal(await gauge('saga_waiting_for_key', 'keyed'), 0);
    assert.equal(await gauge('saga_key_holders', 'keyed'), 0);
  });

  it('a deadline ends a queued saga; a scheduled start queues for its key when its start comes', async () => {
    const holder = await start('keyed', { key: 'k3', script: { a: ['sleep'] } });
    await running(holder);
    const late = await start('keyed', { key: 'k3' }, '?deadlineMs=300');
    const before = Date.now();
    const scheduled = await start('keyed', { key: 'k3' }, '?delayMs=400');

    const expired = await waitForSaga(t.http, late, undefined, 10_000);
    assert.equal(expired.status, 'compensated');
    assert.equal(expired.error?.name, 'DeadlineExceeded');
    assert.equal(await holderOf('k3'), holder);

    // Its start came and the key was held: it is queued, no longer due.
    await waitFor(
      async () => {
        const [admission] =
          await t.sql`SELECT due_at FROM saga_units WHERE saga_id = ${scheduled} AND key = 'key'`;
        return Date.now() > before + 400 && admission.due_at === null ? true : undefined;
      },
      { what: 'the scheduled saga to queue' },
    );
    assert.equal((await view(scheduled)).status, 'pending');
    assert.equal((await t.http.post(`/sagas/${holder}/cancel`)).status, 202);
    assert.equal((await waitForSaga(t.http, scheduled)).status, 'completed');

    // A scheduled start whose key is free when it comes runs then.
    const asked = Date.now();
    const free = await start('keyed', { key: 'k4' }, '?delayMs=300');
    assert.equal((await view(free)).status, 'pending');
    assert.equal((await waitForSaga(t.http, free)).status, 'completed');
    // Its start is 300 ms after the insert, which came after the request was sent.
    assert.ok(journal.of(free)[0].at >= asked + 300, 'not before its start');
    assert.deepEqual(await holders(), []);
  });

  it('a first step that waits for a signal waits once its saga holds the key; a signal kept meanwhile is taken then', async () => {
    const holder = await start('keyed-wait', { key: 'k5' });
    const queued = await start('keyed-wait', { key: 'k5' });
    await waitFor(async () => ((await view(holder)).steps![0].status === 'waiting' ? true : undefined));
    const signalled = await t.http.post(`/sagas/${queued}/signals/go`, { by: 'early' });
    assert.equal(signalled.status, 202, signalled.text);
    const waiting = await view(queued);
    assert.equal(waiting.status, 'pending');
    assert.equal(waiting.steps![0].status, 'pending');

    assert.equal((await t.http.post(`/sagas/${holder}/signals/go`, { by: 'holder' })).status, 202);
    assert.equal((await waitForSaga(t.http, holder)).status, 'completed');
    const done = await waitForSaga(t.http, queued);
    assert.equal(done.status, 'completed');
    assert.deepEqual(done.output, { approved: { approvedBy: 'early' } });
  });

  it('sagas of a few keys started, cancelled and ended all at once: one at a time per key, none left behind', async () => {
    const keys = ['r1', 'r2', 'r3'];
    // Some start a little later, so that their admissions race the ends and the other starts too.
    const ids = await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        start(
          'keyed',
          { key: keys[i % 3], script: { a: [i % 4 === 0 ? 'slow' : 'ok'] } },
          i % 6 === 1 ? `?delayMs=${(i % 5) * 40}` : '',
        ),
      ),
    );
    // Cancels race the starts, the admissions and the ends.
    const cancels = ids.filter((_, i) => i % 5 === 2).map((id) => t.http.post(`/sagas/${id}/cancel`));
    for (const response of await Promise.all(cancels)) assert.ok([202, 409].includes(response.status));
    const ended = await Promise.all(ids.map((id) => waitForSaga(t.http, id, undefined, 60_000)));
    assert.ok(ended.every((s) => s.status === 'completed' || s.status === 'compensated'));
    for (const key of keys) {
      const ofKey = ended.filter((s) => (s.input as { key: string }).key === key);
      assertOneAtATime(await Promise.all(ofKey.map((s) => runOf(t.http, s.id))));
    }
    assert.deepEqual(await holders(), []);
    const [{ pending }] = await t.sql`SELECT count(*)::int AS pending FROM sagas WHERE status = 'pending'`;
    assert.equal(pending, 0);
  });

  it('refuses a bad priority with 400, writing nothing, and keeps a good one on the saga', async () => {
    const [{ count: before }] = await t.sql`SELECT count(*)::int AS count FROM sagas`;
    for (const query of ['?priority=0', '?priority=11', '?priority=1.5', '?priority=high', '?priority=']) {
      const response = await t.http.post(`/sagas/keyed${query}`, { key: 'p' });
      assert.equal(response.status, 400, `${query}: ${response.text}`);
      assert.deepEqual(
        response.body,
        {
          statusCode: 400,
          error: 'Bad Request',
          message: response.body.message,
          issues: [{ path: 'priority', message: 'must be a whole number from 1 to 10' }],
        },
        query,
      );
    }
    const [{ count: after }] = await t.sql`SELECT count(*)::int AS count FROM sagas`;
    assert.equal(after, before);

    const id = await start('keyed', { key: 'p' }, '?priority=1');
    const byDefault = await start('keyed', { key: 'q' });
    const rows = await t.sql`SELECT id, priority FROM sagas WHERE id IN (${id}, ${byDefault}) ORDER BY id`;
    assert.deepEqual(
      rows.map((r) => r.priority),
      [1, 5],
    );
    await Promise.all([waitForSaga(t.http, id), waitForSaga(t.http, byDefault)]);
  });
});
