import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { SagaView } from '../../src/saga/index.js';
import { FlowSagasModule } from '../support/fixtures/flows.saga.js';
import { waitForSaga } from '../support/sagas.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { waitFor } from '../support/wait.js';

// SAGA_RETENTION (DESIGN.md configuration): finished sagas older than it are deleted by the workers
// with every row they own, and nothing else is, whatever its age.

const RETENTION_MS = 3000;
const TABLES = ['sagas', 'saga_units', 'saga_events', 'saga_signals'] as const;

describe('retention', () => {
  let t: TestApp;

  before(async () => {
    t = await startTestApp({ sagaModules: [FlowSagasModule], env: { SAGA_RETENTION: '3s' } });
  });
  after(() => t.close());

  async function start(name: string, input: object = {}, query = ''): Promise<string> {
    const started = await t.http.post(`/sagas/${name}${query}`, input);
    assert.equal(started.status, 202, started.text);
    return started.body.id as string;
  }

  /** How many rows each engine table holds for the saga. */
  async function rows(id: string): Promise<Record<string, number>> {
    const counts: Record<string, number> = {};
    for (const table of TABLES) {
      const column = table === 'sagas' ? 'id' : 'saga_id';
      const [row] =
        await t.sql`SELECT count(*)::int AS n FROM ${t.sql(table)} WHERE ${t.sql(column)} = ${id}`;
      counts[table] = row.n;
    }
    return counts;
  }

  const gone = { sagas: 0, saga_units: 0, saga_events: 0, saga_signals: 0 };

  async function deletedTotal(): Promise<number> {
    const text = (await t.http.get('/metrics')).text;
    const line = text.split('\n').find((l) => l.startsWith('saga_retention_deleted_total '));
    return Number(line?.split(' ')[1]);
  }

  it('deletes exactly the finished sagas older than the retention, with their rows in every table', async () => {
    const deletedBefore = await deletedTotal();
    // Old and finished: a tree (parent and its child saga), and a saga that took a signal.
    const tree = await start('parent');
    const treeView = await waitForSaga(t.http, tree);
    assert.equal(treeView.status, 'completed');
    const child = treeView.children![0].id;
    const approved = await start('approval');
    await waitFor(async () => {
      const { body } = await t.http.get<SagaView>(`/sagas/${approved}`);
      return body.steps!.find((s) => s.name === 'approval')!.status === 'waiting' ? true : undefined;
    });
    assert.equal(
      (await t.http.post(`/sagas/${approved}/signals/approval`, { approved: true, by: 'ops' })).status,
      202,
    );
    // Read while it is younger than the retention (3 s go fast on a loaded machine).
    assert.equal((await waitForSaga(t.http, approved)).status, 'completed');
    assert.equal((await rows(approved)).saga_signals, 1);
    // Old, not to be deleted: a dead letter, a running parent whose child completed, a pending saga.
    const deadLetter = await start('scripted', { script: { b: ['fatal'], undoA: ['fail'] } });
    const running = await start('parent', { script: { after: ['sleep'] } });
    const pending = await start('scripted', {}, '?delayMs=3600000');

    assert.equal((await waitForSaga(t.http, deadLetter)).status, 'failed');
    const runningChild = await waitFor(async () => {
      const { body } = await t.http.get<SagaView>(`/sagas/${running}`);
      const id = body.children?.[0]?.id;
      return id && (await t.http.get<SagaView>(`/sagas/${id}`)).body.status === 'completed' ? id : undefined;
    });

    // They age past the retention; then a young finished saga.
    await sleep(RETENTION_MS + 500);
    const young = await start('scripted');
    assert.equal((await waitForSaga(t.http, young)).status, 'completed');

    // The workers' own loop deletes them: the parent first, its child by a later batch.
    for (const id of [tree, child, approved]) {
      await waitFor(async () => ((await rows(id)).sagas === 0 ? true : undefined), {
        timeoutMs: 10_000,
        what: `saga ${id} to be deleted`,
      });
    }
    for (const id of [tree, child, approved]) assert.deepEqual(await rows(id), gone, `rows of ${id}`);
    assert.equal((await t.http.get(`/sagas/${tree}`)).status, 404);

    // Nothing else: the young one, the dead letter, the running parent and its completed child, the pending one.
    for (const id of [young, deadLetter, running, runningChild, pending]) {
      const left = await rows(id);
      assert.equal(left.sagas, 1, `saga ${id} was deleted`);
      assert.ok(left.saga_units > 0 && left.saga_events > 0, `rows of ${id}: ${JSON.stringify(left)}`);
    }
    assert.equal((await deletedTotal()) - deletedBefore, 3);

    // Still kept later on, whatever their age, while they are not finished (or are dead letters).
    await sleep(1500);
    for (const id of [deadLetter, running, runningChild, pending]) assert.equal((await rows(id)).sagas, 1);
    await t.http.post(`/sagas/${running}/cancel`);
    await t.http.post(`/sagas/${pending}/cancel`);
    await waitForSaga(t.http, running);
  });
});
