import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { SagaView } from '../../src/saga/index.js';
import { wipeRedisPrefix } from '../../src/saga/testing/redis-keys.js';
import { TimedSagasModule } from '../support/fixtures/scheduled.saga.js';
import { waitForSaga } from '../support/sagas.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { waitFor } from '../support/wait.js';

/** `@Step({ delayMs })` and `ctx.progress()`, through the running app. */
describe('durable sleeps and progress', () => {
  let t: TestApp;

  before(async () => {
    t = await startTestApp({ sagaModules: [TimedSagasModule] });
  });
  after(() => t.close());

  async function start(name: string, input: object): Promise<string> {
    const started = await t.http.post(`/sagas/${name}`, input);
    assert.equal(started.status, 202, started.text);
    return started.body.id as string;
  }

  const view = async (id: string) => (await t.http.get<SagaView>(`/sagas/${id}`)).body;
  const step = (saga: SagaView, name: string) => saga.steps!.find((s) => s.name === name)!;

  it('a step with delayMs is due that long after the previous step completed, shown as dueAt, and runs then', async () => {
    const id = await start('sleepy', {});
    const sleeping = await waitFor(async () => {
      const saga = await view(id);
      return step(saga, 'first').status === 'completed' ? saga : undefined;
    });
    const second = step(sleeping, 'second');
    assert.equal(second.status, 'pending');
    assert.equal(sleeping.status, 'running');
    const firstDone = Date.parse(step(sleeping, 'first').finishedAt!);
    const dueAt = Date.parse(second.dueAt!);
    assert.ok(
      Math.abs(dueAt - firstDone - 1500) < 200,
      `due ${second.dueAt}, first done ${step(sleeping, 'first').finishedAt}`,
    );
    const done = await waitForSaga(t.http, id);
    assert.equal(done.status, 'completed');
    const ran = (done.output as { second: { at: number } }).second.at;
    assert.ok(ran >= dueAt - 50, `ran at ${new Date(ran).toISOString()}, due ${second.dueAt}`);
    assert.equal(step(done, 'second').dueAt, undefined);
  });

  it('a first step with delayMs keeps the saga pending until it is due', async () => {
    const id = await start('late-start', {});
    const pending = await view(id);
    assert.equal(pending.status, 'pending');
    const dueAt = Date.parse(step(pending, 'only').dueAt!);
    assert.ok(
      Math.abs(dueAt - Date.parse(pending.createdAt) - 1500) < 200,
      `due ${step(pending, 'only').dueAt}`,
    );
    const done = await waitForSaga(t.http, id);
    assert.ok((done.output as { only: { at: number } }).only.at >= dueAt - 50);
  });

  it('survives a Redis wipe while it sleeps: the reconciler re-drives the due step from Postgres', async () => {
    const id = await start('sleepy', {});
    await waitFor(async () => (step(await view(id), 'first').status === 'completed' ? true : undefined));
    await wipeRedisPrefix(t.redis, t.queuePrefix);
    const done = await waitForSaga(t.http, id);
    assert.equal(done.status, 'completed');
    const [unit] = await t.sql`SELECT attempts FROM saga_units WHERE saga_id = ${id} AND key = 's1'`;
    assert.equal(unit.attempts, 1);
  });

  it('progress reported by a running step shows in the view while it runs and after', async () => {
    const id = await start('progressing', { workMs: 1500 });
    const running = await waitFor(async () => {
      const saga = await view(id);
      return step(saga, 'work').progress === 40 ? saga : undefined;
    });
    assert.equal(step(running, 'work').status, 'running');
    const done = await waitForSaga(t.http, id);
    assert.deepEqual(step(done, 'work').progress, { phase: 'done', items: 3 });
    const [unit] = await t.sql`SELECT progress, seq FROM saga_units WHERE saga_id = ${id} AND key = 's0'`;
    assert.deepEqual(unit.progress, { phase: 'done', items: 3 });
    // Reports are not transitions: the unit was scheduled once, by the start.
    assert.equal(unit.seq, 1);
  });

  it("a compensation's progress shows as its step's compensation.progress", async () => {
    const done = await waitForSaga(t.http, await start('undo-progress', {}));
    assert.equal(done.status, 'compensated');
    const reserve = step(done, 'reserve');
    assert.equal(reserve.progress, undefined);
    assert.deepEqual(reserve.compensation, {
      ...reserve.compensation,
      status: 'completed',
      progress: { released: 2, of: 2 },
    });
  });

  it('a bad progress value throws InvalidProgressError to the handler and is not kept', async () => {
    const id = await start('progressing', { workMs: 0 });
    const done = await waitForSaga(t.http, id);
    assert.deepEqual((done.output as { work: { refused: string[] } }).work.refused, [
      'InvalidProgressError: ctx.progress(): a number must be between 0 and 100, got 150',
      'InvalidProgressError: ctx.progress(): a number must be between 0 and 100, got NaN',
      'InvalidProgressError: ctx.progress(): expects a number 0..100 or a plain object',
      'InvalidProgressError: ctx.progress(): expects a number 0..100 or a plain object',
      'InvalidProgressError: ctx.progress(): expects a number 0..100 or a plain object',
      'InvalidProgressError: ctx.progress(): the object is over 2048 bytes as JSON',
    ]);
    assert.deepEqual(step(done, 'work').progress, { phase: 'done', items: 3 });
  });
});
