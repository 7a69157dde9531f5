import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { AppProcess, killAll } from '../support/app-process.js';
import type { ScriptInput } from '../support/fixtures/scripted.saga.js';
import { waitForSaga } from '../support/sagas.js';
import { createTestEnvironment, type TestEnvironment } from '../support/test-app.js';
import { waitFor } from '../support/wait.js';

/** A line of LOG_FORMAT=json: pino's fields, Nest's context, and a saga's fields where they apply. */
interface JsonLine {
  level: string;
  time: string;
  context?: string;
  msg: string;
  sagaId?: string;
  saga?: string;
  step?: string;
  attempt?: number;
}

/** Nest's name of each pino level. */
const NEST_LEVEL: Record<string, string> = { info: 'LOG', warn: 'WARN', error: 'ERROR', debug: 'DEBUG' };

/**
 * What an operator reads in the output of a real process (LOG_LEVEL=log, LOG_FORMAT=json, what a
 * process writing to a pipe gets by default), one line per saga event.
 */
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

  /** Every line the process wrote: each one is a JSON object. */
  function jsonLines(): JsonLine[] {
    return app!.logs
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => JSON.parse(line) as JsonLine);
  }

  /** The lines about one saga (by their `sagaId` field), as `LEVEL message` without the saga's name and id. */
  async function linesOf(id: string, last: RegExp): Promise<string[]> {
    const lines = () =>
      jsonLines()
        .filter((line) => line.sagaId === id && line.context === 'Saga')
        .map(
          (line) =>
            `${NEST_LEVEL[line.level]} ${line.msg.replace(`scripted ${id}`, '').replace(/^:? ?/, '')}`,
        );
    await waitFor(async () => (lines().some((line) => last.test(line)) ? true : undefined));
    return lines();
  }

  it("every line is a JSON object; a saga event's has sagaId, saga, step and attempt as fields", async () => {
    const id = await run({ b: ['fail', 'ok'] });
    await linesOf(id, /completed/);
    const lines = jsonLines().filter((line) => line.sagaId === id && line.context === 'Saga');
    for (const line of lines) {
      assert.equal(line.saga, 'scripted');
      assert.equal(line.context, 'Saga');
      assert.ok(!Number.isNaN(Date.parse(line.time)), line.time);
    }
    const failed = lines.find((line) => line.level === 'warn')!;
    assert.deepEqual([failed.step, failed.attempt], ['b', 1]);
    assert.match(failed.msg, new RegExp(`^scripted ${id} b \\(attempt 1\\): step failed, retrying in 50 ms`));
    const started = lines.find((line) => line.msg.endsWith('started'))!;
    assert.deepEqual([started.step, started.attempt], [undefined, undefined]);
    // A handler's lines (ctx.logger) carry them too.
    const handlerLines = jsonLines().filter((line) => line.sagaId === id && line.context === 'scripted.b');
    assert.deepEqual(
      handlerLines.map((line) => [line.msg, line.saga, line.step, line.attempt]),
      [
        ['fail (call 1)', 'scripted', 'b', 1],
        ['ok (call 2)', 'scripted', 'b', 2],
      ],
    );
    // Nest's own lines go through the same logger, with their context.
    assert.ok(jsonLines().some((line) => line.context === 'SagaExplorer' && line.level === 'info'));
  });

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

describe('LOG_FORMAT', () => {
  let t: TestEnvironment;
  let app: AppProcess | undefined;

  before(async () => {
    t = await createTestEnvironment();
  });
  after(async () => {
    await killAll([app]);
    await t.destroy();
  });

  it('pretty: a line for people, with the time, the level, the context and the message', async () => {
    app = await AppProcess.start({ env: { ...t.env, LOG_LEVEL: 'log', LOG_FORMAT: 'pretty' } });
    const { body } = await app.http.post('/sagas/scripted', { script: {} });
    const id = body.id as string;
    await waitForSaga(app.http, id);
    const line = await waitFor(async () => app!.logs.split('\n').find((l) => l.includes(`${id}: completed`)));
    assert.match(
      line,
      new RegExp(`^\\[\\d\\d:\\d\\d:\\d\\d\\.\\d{3}\\] INFO: \\[Saga\\] scripted ${id}: completed$`),
    );
    assert.ok(!app.logs.split('\n').some((l) => l.startsWith('{')), 'no JSON line');
  });

  it('another value is a configuration error that names the variable', async () => {
    await assert.rejects(
      AppProcess.start({ env: { ...t.env, LOG_FORMAT: 'xml' }, readyTimeoutMs: 10_000 }),
      /exited before it was healthy[\s\S]*LOG_FORMAT/,
    );
  });
});
