import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { SagaView } from '../../src/saga/index.js';
import { AppProcess, killAll } from '../support/app-process.js';
import { eventsOf, tripInput, waitForSaga, type EventItem } from '../support/sagas.js';
import { readEventStream, type SseReading } from '../support/sse-client.js';
import { createTestEnvironment, type TestEnvironment } from '../support/test-app.js';
import { waitFor } from '../support/wait.js';

/**
 * `GET /sagas/{id}/stream` across processes: an API process streams what a separate worker process
 * records, each event once, after a snapshot taken at any moment of the saga.
 */
describe('saga stream: GET /sagas/{id}/stream', () => {
  let t: TestEnvironment;
  let api: AppProcess;
  let worker: AppProcess;

  before(async () => {
    t = await createTestEnvironment();
    [api, worker] = await Promise.all([
      AppProcess.start({ role: 'api', env: t.env }),
      AppProcess.start({ role: 'worker', env: t.env }),
    ]);
  });

  after(async () => {
    await killAll([api, worker]);
    await t.destroy();
  });

  const streamOf = (id: string) => readEventStream(`${api.http.baseUrl}/sagas/${id}/stream`);

  async function start(name: string, input: object): Promise<string> {
    const started = await api.http.post(`/sagas/${name}`, input);
    assert.equal(started.status, 202, started.text);
    return started.body.id as string;
  }

  /**
   * The stream ended after the saga's terminal event, and sent exactly the events recorded after
   * its snapshot: numbered on from the snapshot's, none twice, none missing.
   */
  async function assertWholeStream(id: string, stream: SseReading, terminal: string): Promise<EventItem[]> {
    await stream.ended;
    assert.equal(stream.status, 200);
    assert.equal(stream.contentType, 'text/event-stream; charset=utf-8');
    const [snapshot, ...rest] = stream.events;
    assert.equal(snapshot.event, 'snapshot');
    assert.equal(snapshot.data.id, id);
    assert.ok(rest.every((e) => e.event === 'saga-event'));
    const recorded = await eventsOf(api.http, id);
    const streamed = rest.map((e) => e.data as EventItem);
    assert.ok(streamed.length > 0, 'events after the snapshot');
    const first = streamed[0].seq;
    assert.deepEqual(streamed, recorded.slice(first - 1), 'every event after the snapshot, once, in order');
    assert.deepEqual(
      rest.map((e) => e.id),
      streamed.map((e) => String(e.seq)),
    );
    assert.equal(streamed.at(-1)!.type, terminal, 'ends with the terminal event');
    // The snapshot shows exactly the events before the first one streamed.
    const before = recorded.slice(0, first - 1);
    for (const step of (snapshot.data as SagaView).steps!) {
      const completed = before.some((e) => e.type === 'step_completed' && e.step === step.name);
      assert.equal(step.status === 'completed', completed, `step ${step.name} in the snapshot`);
    }
    return streamed;
  }

  it('answers 400 for a malformed id and 404 for an unknown saga, as JSON', async () => {
    const malformed = await api.http.get('/sagas/not-a-uuid/stream');
    assert.equal(malformed.status, 400);
    assert.equal(malformed.body.error, 'Bad Request');
    assert.match(malformed.body.message, /saga id/);
    const unknown = await api.http.get('/sagas/0190f3b4-0000-7000-8000-000000000000/stream');
    assert.deepEqual(unknown.body, {
      statusCode: 404,
      error: 'Not Found',
      message: unknown.body.message,
    });
    assert.match(unknown.body.message, /0190f3b4-0000-7000-8000-000000000000/);
  });

  it('streams a waiting trip from its snapshot to completed, as the worker process records it', async () => {
    const id = await start('trip', tripInput());
    await waitFor(
      async () => {
        const view = (await api.http.get<SagaView>(`/sagas/${id}`)).body;
        return view.steps!.find((s) => s.name === 'awaitApproval')?.status === 'waiting' ? true : undefined;
      },
      { what: 'the trip to wait for approval' },
    );
    const stream = await streamOf(id);
    await waitFor(async () => (stream.events.length > 0 ? true : undefined), { what: 'the snapshot' });
    const snapshot = stream.events[0].data as SagaView;
    assert.equal(snapshot.status, 'running');
    assert.equal(snapshot.steps!.find((s) => s.name === 'awaitApproval')!.waitingFor, 'approval');

    const sent = await api.http.post(`/sagas/${id}/signals/approval`, { approved: true, by: 'ops' });
    assert.equal(sent.status, 202, sent.text);
    // The signal's event committed before the 202: the contract's second counts from then at the latest.
    const signalled = Date.now();
    await waitFor(async () => (stream.events.length > 1 ? true : undefined), {
      timeoutMs: 1000,
      intervalMs: 10,
      what: 'the signal event within a second',
    });
    assert.ok(Date.now() - signalled < 1000);
    const streamed = await assertWholeStream(id, stream, 'saga_completed');
    assert.equal(streamed[0].type, 'signal_received');
    assert.ok(streamed.some((e) => e.type === 'child_started'));
  });

  it('gives clients that connect at any moment of a running saga the snapshot, then every later event once', async () => {
    const id = await start('scripted', {
      script: { a: ['slow'], b: ['fail', 'slow'], c: ['fail', 'slow'] },
      // Each quiet second between events outlasts a loaded machine's turn of the loop below.
      slowMs: 1000,
    });
    const streams: SseReading[] = [];
    while (['pending', 'running'].includes((await api.http.get<SagaView>(`/sagas/${id}`)).body.status)) {
      streams.push(await streamOf(id));
      await sleep(200);
    }
    await waitForSaga(api.http, id);
    const firsts = [];
    for (const stream of streams) {
      await stream.ended;
      // One that connected as the saga ended got the snapshot of the ended saga only.
      if (stream.events[0].data.status === 'completed') assert.equal(stream.events.length, 1);
      else firsts.push((await assertWholeStream(id, stream, 'saga_completed'))[0].seq);
    }
    assert.ok(new Set(firsts).size > 2, `clients joined at different events (${firsts.join(', ')})`);
  });

  it('sends only the snapshot of a saga that has ended, and closes', async () => {
    const id = await start('scripted', { script: {} });
    const ended = await waitForSaga(api.http, id);
    const stream = await streamOf(id);
    await stream.ended;
    assert.deepEqual(
      stream.events.map((e) => e.event),
      ['snapshot'],
    );
    assert.deepEqual(stream.events[0].data, ended);
  });

  it('keeps streaming to the clients that stay when another goes away', async () => {
    const id = await start('scripted', { script: { a: ['slow'], b: ['slow'], c: ['slow'] } });
    const leaving = await streamOf(id);
    const staying = await streamOf(id);
    await waitFor(async () => (leaving.events.length > 0 ? true : undefined), { what: 'the snapshot' });
    leaving.abort();
    await leaving.ended;
    await assertWholeStream(id, staying, 'saga_completed');
    assert.equal((await api.http.get('/health')).status, 200);
  });
});
