import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { AppProcess, killAll, type Role } from '../support/app-process.js';
import type { ScriptInput } from '../support/fixtures/scripted.saga.js';
import { OtlpReceiver, OtlpSpanKind, OtlpStatusCode, type ReceivedSpan } from '../support/otlp-receiver.js';
import { stepRunning, waitForSaga } from '../support/sagas.js';
import { createTestEnvironment, type TestEnvironment } from '../support/test-app.js';

/** A caller's trace: the saga's start joins it. */
const CALLER_TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const CALLER_SPAN_ID = '00f067aa0ba902b7';

/**
 * Tracing through real processes exporting over OTLP/HTTP to a collector in this test process
 * (OtlpReceiver). Processes are stopped with SIGTERM before the spans are read, which flushes
 * their exporters, except the worker killed on purpose.
 */
describe('tracing: one trace per saga, a span per attempt, over OTLP', () => {
  let t: TestEnvironment;
  let receiver: OtlpReceiver;
  let processes: AppProcess[];

  beforeEach(async () => {
    t = await createTestEnvironment();
    receiver = await OtlpReceiver.start();
    processes = [];
  });

  afterEach(async () => {
    await killAll(processes);
    await receiver.close();
    await t.destroy();
  });

  async function start(role: Role): Promise<AppProcess> {
    const p = await AppProcess.start({
      role,
      name: `${role}-${processes.length + 1}`,
      env: {
        ...t.env,
        LOCK_DURATION_MS: '2000',
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
        OTEL_SERVICE_NAME: 'saga-test',
      },
    });
    processes.push(p);
    return p;
  }

  async function run(api: AppProcess, script: ScriptInput['script']): Promise<string> {
    const started = await api.http.post(
      '/sagas/scripted',
      // A slow step outlasts the time a loaded machine takes to see it run and SIGKILL its worker.
      { script, slowMs: 2000 },
      {
        traceparent: `00-${CALLER_TRACE_ID}-${CALLER_SPAN_ID}-01`,
      },
    );
    assert.equal(started.status, 202, started.text);
    return started.body.id as string;
  }

  /** Stops every process still running with SIGTERM, which exports the spans they still hold. */
  async function flush(): Promise<void> {
    await Promise.all(processes.map((p) => p.stop('SIGTERM')));
  }

  /** The HTTP span, the start span and the attempt spans of a saga, checked to be one trace. */
  function traceOf(id: string): { http: ReceivedSpan; start: ReceivedSpan; attempts: ReceivedSpan[] } {
    const start = receiver.of(id).find((span) => span.name === 'start scripted');
    assert.ok(start, `a start span for saga ${id} among ${receiver.spans.map((s) => s.name).join(', ')}`);
    const http = receiver.spans.find((span) => span.spanId === start.parentSpanId)!;
    assert.ok(http, 'the start span is a child of the HTTP span');
    assert.deepEqual(
      [http.name, http.kind, http.attributes['http.route'], http.attributes['http.response.status_code']],
      ['POST /sagas/{name}', OtlpSpanKind.Server, '/sagas/{name}', 202],
    );
    assert.equal(http.attributes['url.path'], '/sagas/scripted');
    // The caller's trace goes on: the HTTP span is a child of the caller's span.
    assert.deepEqual([http.traceId, http.parentSpanId], [CALLER_TRACE_ID, CALLER_SPAN_ID]);
    const attempts = receiver
      .of(id)
      .filter((span) => span !== start)
      .sort((a, b) => a.startedAtMs - b.startedAtMs);
    for (const span of [start, ...attempts]) {
      assert.equal(span.traceId, CALLER_TRACE_ID, `${span.name} is in the saga's trace`);
      assert.equal(span.service, 'saga-test');
    }
    for (const span of attempts) assert.equal(span.parentSpanId, start.spanId, `${span.name}'s parent`);
    return { http, start, attempts };
  }

  /** An attempt span as `kind step attempt outcome [error]`. */
  function describeAttempt(span: ReceivedSpan): string {
    const a = span.attributes;
    const error = span.status.code === OtlpStatusCode.Error ? ` ${String(a['error.type'])}` : '';
    return `${String(a['saga.attempt.kind'])} ${String(a['saga.step'])} ${String(a['saga.attempt'])} ${String(a['saga.attempt.outcome'])}${error}`;
  }

  it('retries are several attempt spans, compensations spans of their own, all children of the start', async () => {
    const app = await start('all');
    const id = await run(app, { b: ['fail', 'ok'], c: ['fatal'] });
    assert.equal((await waitForSaga(app.http, id)).status, 'compensated');
    await flush();

    const { start: root, attempts } = traceOf(id);
    assert.deepEqual(
      [root.attributes['saga.name'], root.attributes['saga.id'], root.kind],
      ['scripted', id, OtlpSpanKind.Internal],
    );
    assert.deepEqual(attempts.map(describeAttempt), [
      'step a 1 succeeded',
      'step b 1 failed Error',
      'step b 2 succeeded',
      'step c 1 failed NonRetryableError',
      'compensation c 1 succeeded',
      'compensation b 1 succeeded',
      'compensation a 1 succeeded',
    ]);
    assert.deepEqual(attempts.map((span) => span.name).slice(0, 2), ['step scripted.a', 'step scripted.b']);
    assert.equal(attempts[3].status.message, 'c cannot succeed');
    assert.ok(attempts.every((span) => span.attributes['saga.name'] === 'scripted'));
  });

  it('SIGKILL of the worker running a step: the redelivered attempt, in another process, joins the same trace', async () => {
    const api = await start('api');
    const doomed = await start('worker');
    const id = await run(api, { b: ['slow'] });
    await stepRunning(t, id, 'b');
    doomed.kill('SIGKILL');
    await doomed.exited;
    await start('worker');
    assert.equal(
      (await waitForSaga(api.http, id, ['completed', 'compensated', 'failed'], 30_000)).status,
      'completed',
    );
    await flush();

    const { attempts } = traceOf(id);
    // The killed worker's spans died with it (they were not exported yet): what the other ran is there.
    assert.deepEqual(attempts.map(describeAttempt).slice(-3), [
      'step b 2 succeeded',
      'step c 1 succeeded',
      'step d 1 succeeded',
    ]);
  });

  it("a child saga's spans go on in its parent's trace, under the attempt that started it", async () => {
    const app = await start('all');
    const trip = {
      tripId: 'trip-traced',
      travelerId: 't-1',
      flight: { from: 'CDG', to: 'LIS' },
      hotel: { city: 'Lisbon', nights: 2 },
      amount: 120,
      card: '4242424242424242',
    };
    const started = await app.http.post('/sagas/trip', trip);
    assert.equal(started.status, 202, started.text);
    const id = started.body.id as string;
    const signal = await app.http.post(`/sagas/${id}/signals/approval`, { approved: true, by: 'ops' });
    assert.equal(signal.status, 202, signal.text);
    const saga = await waitForSaga(app.http, id, ['completed', 'compensated', 'failed'], 30_000);
    assert.equal(saga.status, 'completed', JSON.stringify(saga));
    await flush();

    const tripSpans = receiver.of(id);
    const pay = tripSpans.find((span) => span.attributes['saga.step'] === 'pay')!;
    const childId = saga.children![0].id;
    const childSpans = receiver.of(childId);
    assert.deepEqual(childSpans.map(describeAttempt).sort(), [
      'step authorize 1 succeeded',
      'step capture 1 succeeded',
    ]);
    for (const span of childSpans) {
      assert.equal(span.traceId, pay.traceId);
      assert.equal(span.parentSpanId, pay.spanId);
    }
    assert.equal(pay.attributes['saga.attempt.outcome'], 'spawned');
  });
});
