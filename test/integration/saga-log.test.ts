import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { AppProcess, killAll } from '../support/app-process.js';
import type { ScriptInput } from '../support/fixtures/scripted.saga.js';
import { waitForSaga } from '../support/sagas.js';
import { createTestEnvironment, type TestEnvironment } from '../support/test-app.js';
import { waitFor } from '../support/wait.js';

/** What an operator reads in the output of a real process (LOG_LEVEL=log), one line per saga event. */
describe('the log tells what happens to sagas', () => {
  let t: TestEnvironment;
  let app: AppProcess | undefined;

  before(async () => {
    t = await createTestEnvironment();
    app = await AppProcess.start({ env: { ...t.env, LOG_LEVEL: 'log' } });
  });
  after(async () => {
    await killAll([app]);
    await t.destroy();
  });

  async function run(script: ScriptInput['script']): Promise<string> {
    const { status, body } = await app!.http.post('/sagas/scripted', { script });
    assert.equal(status, 202);
    await waitForSaga(app!.http, body.id as string);
    return body.id as string;
  }

  /** The lines about one saga, as `LEVEL message` (Nest's console format, without colours). */
  async function linesOf(id: string, last: RegExp): Promise<string[]> {
    const lines = () =>
      app!.logs
        .split('\n')
        .filter((line) => line.includes(id))
        .map((line) => line.replace(/^.*?\s(LOG|WARN|ERROR|DEBUG)\s+\[Saga\] scripted \S+ ?/, '$1 '));
    await waitFor(async () => (lines().some((line) => last.test(line)) ? true : undefined));
    return lines();
  }

  it('a start and an end at log level; routine steps are not logged', async () => {
    const id = await run({});
    assert.deepEqual(await linesOf(id, /completed/), ['LOG started', 'LOG completed']);
  });

  it('a failed attempt with its retry delay, a final failure and the compensations', async () => {
    const id = await run({ b: ['fail', 'ok'], c: ['fatal'] });
    assert.deepEqual(await linesOf(id, /ended compensated/), [
      'LOG started',
      'WARN b (attempt 1): step failed, retrying in 50 ms: Error: b failed on call 1',
      'WARN c (attempt 1): step failed, for good: NonRetryableError: c cannot succeed',
      'WARN compensating its completed steps, because: NonRetryableError: c cannot succeed',
      'LOG c (attempt 1): compensated',
      'LOG b (attempt 1): compensated',
      'LOG a (attempt 1): compensated',
      'LOG ended compensated',
    ]);
  });

  it('a dead letter at error level, and an operator retry', async () => {
    const id = await run({ d: ['fatal'], undoB: ['fail', 'fail', 'ok'] });
    const lines = await linesOf(id, /ended failed/);
    assert.deepEqual(lines.slice(-3), [
      'WARN b (attempt 1): compensation failed, retrying in 20 ms: Error: undoB failed on call 1',
      'ERROR b (attempt 2): compensation failed for good: Error: undoB failed on call 2',
      'ERROR ended failed (dead letter: an operator must retry it): Error: undoB failed on call 2',
    ]);
    assert.equal((await app!.http.post(`/sagas/${id}/retry`)).status, 202);
    assert.deepEqual((await linesOf(id, /ended compensated/)).slice(lines.length), [
      'LOG b: retried by an operator',
      'LOG b (attempt 1): compensated',
      'LOG a (attempt 1): compensated',
      'LOG ended compensated',
    ]);
  });

  it('a cancel', async () => {
    const { body } = await app!.http.post('/sagas/scripted', { script: { b: ['slow'] } });
    const id = body.id as string;
    await waitForSaga(app!.http, id, ['running']);
    assert.equal((await app!.http.post(`/sagas/${id}/cancel`)).status, 202);
    const lines = await linesOf(id, /ended compensated/);
    assert.ok(lines.includes('LOG cancel requested'), lines.join('\n'));
    assert.ok(
      lines.includes('WARN compensating its completed steps, because: SagaCancelled: cancelled on request'),
      lines.join('\n'),
    );
  });
});
