import assert from 'node:assert/strict';
import { STATUS_CODES } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { OrderModule } from '../../sagas/order/order.module.js';
import { ScriptedSagaModule } from '../support/fixtures/scripted.saga.js';
import { HttpClient, type HttpResponse } from '../support/http-client.js';
import { orderInput, waitForSaga } from '../support/sagas.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

// The HTTP contract of DESIGN.md ("HTTP API (contract)", invariant 6), against the real app.

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const UNKNOWN_ID = '00000000-0000-7000-8000-000000000000';
const MALFORMED_IDS = [
  'abc',
  '123',
  '01a21870488e7a7990d1736eef897017',
  `${UNKNOWN_ID}0`,
  UNKNOWN_ID.replace(/0/g, 'g'),
];
const ONE_MIB = 1024 * 1024;
const API_KEY = 'a-very-secret-key-123';
const SAGA_VIEW_KEYS = [
  'id',
  'name',
  'version',
  'status',
  'input',
  'output',
  'error',
  'createdAt',
  'updatedAt',
  'completedAt',
  'startAt',
  'deadlineAt',
  'parentId',
  'children',
  'steps',
];
// The saga view of DESIGN.md.
const STEP_KEYS = [
  'name',
  'kind',
  'group',
  'status',
  'attempts',
  'startedAt',
  'finishedAt',
  'output',
  'error',
  'waitingFor',
  'childId',
  'dueAt',
  'progress',
  'compensation',
];
const COMPENSATION_KEYS = ['status', 'attempts', 'startedAt', 'finishedAt', 'error'];
const SAGA_STATUSES = ['pending', 'running', 'compensating', 'completed', 'compensated', 'failed'];
const STEP_STATUSES = [
  'pending',
  'running',
  'completed',
  'failed',
  'compensating',
  'compensated',
  'compensation_failed',
  'skipped',
];

/** Every response any test received, so the last test can check that none carried a stack trace. */
const received: HttpResponse[] = [];

class RecordingClient extends HttpClient {
  override async request<T = any>(
    method: string,
    path: string,
    options: { json?: unknown; body?: string | Buffer; headers?: Record<string, string> } = {},
  ): Promise<HttpResponse<T>> {
    const response = await super.request<T>(method, path, options);
    received.push(response);
    return response;
  }

  /** Sends `body` as is, as JSON unless `headers` says otherwise. */
  raw(path: string, body: string | Buffer, headers: Record<string, string> = {}): Promise<HttpResponse> {
    return this.request('POST', path, { body, headers: { 'content-type': 'application/json', ...headers } });
  }
}

function client(t: TestApp): RecordingClient {
  return new RecordingClient(t.http.baseUrl);
}

function assertNoStack(response: HttpResponse): void {
  assert.doesNotMatch(response.text, /\n\s+at | {4}at /, `a stack trace in: ${response.text.slice(0, 500)}`);
}

/** The error shape of DESIGN.md, exactly: `{ statusCode, error, message }` (+ `issues` for validation errors). */
function assertError(response: HttpResponse, status: number, message?: RegExp): void {
  const where = `${response.status} ${response.text.slice(0, 300)}`;
  assert.equal(response.status, status, where);
  assertNoStack(response);
  assert.match(response.headers.get('content-type') ?? '', /^application\/json/, where);
  const body = response.body;
  assert.ok(body && typeof body === 'object' && !Array.isArray(body), where);
  const keys = Object.keys(body).sort();
  assert.ok(
    keys.join() === 'error,message,statusCode' || keys.join() === 'error,issues,message,statusCode',
    `unexpected keys ${keys.join()} in ${where}`,
  );
  assert.equal(body.statusCode, status, where);
  assert.equal(body.error, STATUS_CODES[status], where);
  assert.equal(typeof body.message, 'string', where);
  assert.ok(body.message.length > 0, where);
  if (message) assert.match(body.message, message, where);
  if ('issues' in body) {
    assert.ok(Array.isArray(body.issues) && body.issues.length > 0, where);
    for (const issue of body.issues) {
      assert.deepEqual(Object.keys(issue).sort(), ['message', 'path'], where);
      assert.equal(typeof issue.path, 'string', where);
      assert.equal(typeof issue.message, 'string', where);
      assert.ok(issue.message.length > 0, where);
    }
  }
}

/** A 400 whose `issues` name at least `paths` (zod paths joined with "."). */
function assertIssues(response: HttpResponse, paths: string[]): void {
  assertError(response, 400);
  assert.ok(Array.isArray(response.body.issues), `no issues in ${response.text}`);
  const got = response.body.issues.map((i: { path: string }) => i.path);
  for (const path of paths)
    assert.ok(got.includes(path), `issue ${JSON.stringify(path)} missing from ${response.text}`);
}

function assertIso(value: unknown, what: string): void {
  assert.equal(typeof value, 'string', `${what} is not a string: ${String(value)}`);
  assert.equal(new Date(value as string).toISOString(), value, `${what} is not ISO-8601: ${String(value)}`);
}

function assertKeysWithin(value: object, allowed: string[], what: string): void {
  for (const key of Object.keys(value)) assert.ok(allowed.includes(key), `unexpected key ${key} in ${what}`);
}

function assertStarted(response: HttpResponse, status: 200 | 202, name: string): string {
  assert.equal(response.status, status, response.text);
  assert.deepEqual(Object.keys(response.body).sort(), ['id', 'name', 'status']);
  assert.match(response.body.id, UUID);
  assert.equal(response.body.name, name);
  assert.ok(SAGA_STATUSES.includes(response.body.status), response.text);
  return response.body.id;
}

/** A JSON text of exactly `bytes` bytes: a valid order with an (ignored) padding field. */
function orderOfSize(bytes: number): string {
  const base = JSON.stringify({ ...orderInput(), pad: '' });
  return base.replace('"pad":""', `"pad":"${'x'.repeat(bytes - Buffer.byteLength(base))}"`);
}

/** A JSON body, except for the methods fetch sends without one. */
function bodyFor(method: string, json: unknown): unknown {
  return method === 'GET' || method === 'HEAD' ? undefined : json;
}

async function rowCounts(t: TestApp): Promise<{ sagas: number; steps: number; events: number }> {
  const [row] = await t.sql<{ sagas: number; steps: number; events: number }[]>`
    SELECT (SELECT count(*)::int FROM sagas) AS sagas,
           (SELECT count(*)::int FROM saga_units) AS steps,
           (SELECT count(*)::int FROM saga_events) AS events`;
  return { ...row };
}

/** Sagas stored (steps and events of the app's running sagas keep growing, their number does not). */
async function sagaCount(t: TestApp): Promise<number> {
  const [{ count }] = await t.sql<{ count: number }[]>`SELECT count(*)::int AS count FROM sagas`;
  return count;
}

async function redisKeys(t: TestApp): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await t.redis.scan(cursor, 'MATCH', `${t.queuePrefix}:*`, 'COUNT', 1000);
    keys.push(...batch);
    cursor = next;
  } while (cursor !== '0');
  return keys.sort();
}

describe('HTTP API contract', () => {
  let t: TestApp;
  let http: RecordingClient;

  before(async () => {
    t = await startTestApp({ sagaModules: [OrderModule, ScriptedSagaModule] });
    http = client(t);
  });
  after(() => t?.close());

  describe('POST /sagas/{name}', () => {
    it('starts a saga: 202 { id, name, status }, stored with its validated input', async () => {
      const input = orderInput();
      const id = assertStarted(await http.post('/sagas/order', input), 202, 'order');
      const [row] = await t.sql`SELECT name, version, input, idempotency_key FROM sagas WHERE id = ${id}`;
      assert.deepEqual({ ...row }, { name: 'order', version: 1, input, idempotency_key: null });
      // Unknown fields are not stored.
      const extra = assertStarted(await http.post('/sagas/order', { ...input, admin: true }), 202, 'order');
      const [stored] = await t.sql`SELECT input FROM sagas WHERE id = ${extra}`;
      assert.deepEqual(stored.input, input);
    });

    it('with an Idempotency-Key: 202, then 200 with the same saga for the same input, and one row', async () => {
      const key = `order-key-${Date.now()}`;
      const input = orderInput();
      const first = assertStarted(
        await http.post('/sagas/order', input, { 'Idempotency-Key': key }),
        202,
        'order',
      );
      assert.equal(
        assertStarted(await http.post('/sagas/order', input, { 'Idempotency-Key': key }), 200, 'order'),
        first,
      );
      // The same input as a JSON value: other key order, number spelling and an unknown field the schema drops.
      const reordered = JSON.stringify({
        ...Object.fromEntries(Object.entries(input).reverse()),
        ignored: true,
      });
      assert.ok(reordered.includes('"amount":42.5'));
      assert.equal(
        assertStarted(
          await http.raw('/sagas/order', reordered.replace('"amount":42.5', '"amount":4.25e1'), {
            'Idempotency-Key': key,
          }),
          200,
          'order',
        ),
        first,
      );
      const [{ count }] =
        await t.sql`SELECT count(*)::int AS count FROM sagas WHERE idempotency_key = ${key}`;
      assert.equal(count, 1);
    });

    it('409 for an Idempotency-Key used with a different input, writing nothing', async () => {
      const key = `order-conflict-${Date.now()}`;
      const input = orderInput();
      const first = assertStarted(
        await http.post('/sagas/order', input, { 'Idempotency-Key': key }),
        202,
        'order',
      );
      const before = await rowCounts(t);
      for (const other of [
        { ...input, amount: 1 },
        { ...input, orderId: `${input.orderId}-2` },
        { ...input, items: [...input.items, { sku: 'sku-2', quantity: 1 }] },
      ]) {
        const response = await http.post('/sagas/order', other, { 'Idempotency-Key': key });
        assertError(response, 409);
        assert.equal(
          response.body.message,
          `Idempotency key "${key}" was already used to start saga ${first} ("order") with a different input`,
        );
      }
      assert.equal((await rowCounts(t)).sagas, before.sagas);
      const [stored] = await t.sql`SELECT input FROM sagas WHERE idempotency_key = ${key}`;
      assert.deepEqual(stored.input, input);
      // The key still answers its own input.
      assert.equal(
        assertStarted(await http.post('/sagas/order', input, { 'Idempotency-Key': key }), 200, 'order'),
        first,
      );
    });

    it('concurrent requests with one new Idempotency-Key create exactly one saga', async () => {
      const key = `race-${Date.now()}`;
      const input = orderInput();
      const responses = await Promise.all(
        Array.from({ length: 12 }, () => http.post('/sagas/order', input, { 'Idempotency-Key': key })),
      );
      assert.deepEqual(
        responses.map((r) => r.status).sort(),
        [200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 202],
      );
      assert.equal(new Set(responses.map((r) => r.body.id)).size, 1);
      const [{ count }] =
        await t.sql`SELECT count(*)::int AS count FROM sagas WHERE idempotency_key = ${key}`;
      assert.equal(count, 1);
    });

    it('concurrent requests with one new Idempotency-Key and two inputs: one saga, 200 for its input, 409 for the other', async () => {
      const key = `race-two-${Date.now()}`;
      const inputs = [orderInput(), orderInput()];
      const responses = await Promise.all(
        Array.from({ length: 12 }, (_, i) =>
          http.post('/sagas/order', inputs[i % 2], { 'Idempotency-Key': key }),
        ),
      );
      const winner = responses.findIndex((r) => r.status === 202);
      assert.ok(winner >= 0, responses.map((r) => r.status).join());
      const id = responses[winner].body.id;
      responses.forEach((response, i) => {
        if (i === winner) return;
        if (i % 2 === winner % 2) assert.equal(assertStarted(response, 200, 'order'), id);
        else assertError(response, 409, new RegExp(`saga ${id} .* different input`));
      });
      const [{ count }] =
        await t.sql`SELECT count(*)::int AS count FROM sagas WHERE idempotency_key = ${key}`;
      assert.equal(count, 1);
    });

    it('the same Idempotency-Key on another saga name starts another saga', async () => {
      const key = `shared-${Date.now()}`;
      const input = orderInput();
      const order = assertStarted(
        await http.post('/sagas/order', input, { 'Idempotency-Key': key }),
        202,
        'order',
      );
      const scripted = assertStarted(
        await http.post('/sagas/scripted', { script: {} }, { 'Idempotency-Key': key }),
        202,
        'scripted',
      );
      assert.notEqual(scripted, order);
      assert.equal(
        assertStarted(await http.post('/sagas/scripted', {}, { 'Idempotency-Key': key }), 200, 'scripted'),
        scripted,
      );
      assert.equal(
        assertStarted(await http.post('/sagas/order', input, { 'Idempotency-Key': key }), 200, 'order'),
        order,
      );
      const rows = await t.sql`SELECT name FROM sagas WHERE idempotency_key = ${key} ORDER BY name`;
      assert.deepEqual(
        rows.map((r) => r.name),
        ['order', 'scripted'],
      );
    });

    it('rejects an invalid Idempotency-Key with 400 and accepts 255 visible characters', async () => {
      const before = await sagaCount(t);
      for (const key of ['k'.repeat(300), 'k'.repeat(256), 'has space', 'tab\there', 'caf\u00e9', '']) {
        const response = await http.post('/sagas/order', orderInput(), { 'Idempotency-Key': key });
        assertError(response, 400, /Idempotency-Key/);
      }
      assert.equal(await sagaCount(t), before);
      const longest = `${Date.now()}-`.padEnd(255, '~');
      const input = orderInput();
      assertStarted(await http.post('/sagas/order', input, { 'Idempotency-Key': longest }), 202, 'order');
      assertStarted(await http.post('/sagas/order', input, { 'Idempotency-Key': longest }), 200, 'order');
    });

    it('400 for malformed JSON, without issues', async () => {
      for (const text of [
        '{bad',
        '{"orderId": ',
        "{'orderId': 'a'}",
        '{"a":1,}',
        '[1, 2',
        '{"a":1}}',
        '   ',
      ]) {
        const response = await http.raw('/sagas/order', text);
        assertError(response, 400, /JSON/);
        assert.equal(response.body.issues, undefined);
      }
    });

    it('400 for wrong types, with issues naming each zod path', async () => {
      const wrong = await http.post('/sagas/order', {
        orderId: 5,
        customerId: 'customer-1',
        items: [{ sku: 'sku-1', quantity: 'two' }, { quantity: 1 }],
        amount: '10',
        card: 4242424242424242,
      });
      assertIssues(wrong, ['orderId', 'items.0.quantity', 'items.1.sku', 'amount', 'card']);
      assert.match(wrong.body.message, /order/);

      assertIssues(await http.post('/sagas/order', orderInput({ items: [{ sku: 'sku-1', quantity: 0 }] })), [
        'items.0.quantity',
      ]);
      assertIssues(
        await http.post('/sagas/order', orderInput({ items: [{ sku: 'sku-1', quantity: 1.5 }] })),
        ['items.0.quantity'],
      );
      assertIssues(await http.post('/sagas/order', orderInput({ items: [] })), ['items']);
      const tooMany = Array.from({ length: 51 }, () => ({ sku: 'sku-1', quantity: 1 }));
      assertIssues(await http.post('/sagas/order', orderInput({ items: tooMany })), ['items']);
      assertIssues(await http.post('/sagas/order', orderInput({ amount: 0 })), ['amount']);
      assertIssues(await http.post('/sagas/order', orderInput({ amount: -3 })), ['amount']);
      assertIssues(await http.post('/sagas/order', orderInput({ orderId: '' })), ['orderId']);
      assertIssues(await http.post('/sagas/order', {}), ['orderId', 'customerId', 'items', 'amount', 'card']);
    });

    it('400 "must be a JSON object" for a body that is a JSON array, string, number, boolean or null', async () => {
      const before = await sagaCount(t);
      const cases: [string, string][] = [
        ['null', 'null'],
        ['"text"', 'a string'],
        ['42', 'a number'],
        ['true', 'a boolean'],
        ['[]', 'an array'],
        [JSON.stringify([orderInput()]), 'an array'],
        [' \n null ', 'null'],
      ];
      for (const [text, received] of cases) {
        const response = await http.raw('/sagas/order', text);
        assertIssues(response, ['']);
        assert.equal(response.body.message, `Request body must be a JSON object, received ${received}`, text);
        assert.deepEqual(response.body.issues, [
          { path: '', message: `expected a JSON object, received ${received}` },
        ]);
      }
      // Checked before the saga name, as the JSON itself is.
      assertError(await http.raw('/sagas/nope', 'null'), 400, /must be a JSON object/);
      assert.equal(await sagaCount(t), before);
    });

    it('400 for a card with letters or the wrong number of digits; 12 and 19 digits are accepted', async () => {
      for (const card of [
        '4242abcd42424242',
        '4242 4242 4242 4242',
        '12345678901',
        '12345678901234567890',
        '',
      ]) {
        assertIssues(await http.post('/sagas/order', orderInput({ card })), ['card']);
      }
      assertStarted(await http.post('/sagas/order', orderInput({ card: '123456789012' })), 202, 'order');
      assertStarted(
        await http.post('/sagas/order', orderInput({ card: '1234567890123456789' })),
        202,
        'order',
      );
    });

    it('400, not 500, for strings Postgres cannot store (NUL, unpaired surrogates)', async () => {
      const before = await sagaCount(t);
      assertIssues(await http.post('/sagas/order', orderInput({ orderId: 'a\u0000b' })), ['orderId']);
      const surrogate = JSON.stringify(orderInput({ customerId: 'PLACEHOLDER' })).replace(
        'PLACEHOLDER',
        '\\ud800x',
      );
      assertIssues(await http.raw('/sagas/order', surrogate), ['customerId']);
      const lowSurrogate = JSON.stringify(
        orderInput({ items: [{ sku: 'PLACEHOLDER', quantity: 1 }] }),
      ).replace('PLACEHOLDER', '\\udc00');
      assertIssues(await http.raw('/sagas/order', lowSurrogate), ['items.0.sku']);
      assert.equal(await sagaCount(t), before);
      // A well-formed pair is fine.
      assertStarted(
        await http.post('/sagas/order', orderInput({ orderId: 'emoji-\ud83d\ude00' })),
        202,
        'order',
      );
    });

    it('400 for deeply nested values where the schema expects something else', async () => {
      const deep = '['.repeat(10_000) + ']'.repeat(10_000);
      const text = JSON.stringify(orderInput({ items: 0 })).replace('"items":0', `"items":[${deep}]`);
      assertIssues(await http.raw('/sagas/order', text), ['items.0']);
      const inField = JSON.stringify(orderInput({ orderId: 0 })).replace('"orderId":0', `"orderId":${deep}`);
      assertIssues(await http.raw('/sagas/order', inField), ['orderId']);
    });

    it('415 for a body that is not sent as JSON, whatever the route; no body at all is fine', async () => {
      const before = await sagaCount(t);
      const json = JSON.stringify(orderInput());
      const sends: [string, () => Promise<HttpResponse>][] = [
        ['text/plain', () => http.raw('/sagas/order', json, { 'content-type': 'text/plain' })],
        [
          'form',
          () => http.raw('/sagas/order', json, { 'content-type': 'application/x-www-form-urlencoded' }),
        ],
        ['text/json', () => http.raw('/sagas/order', json, { 'content-type': 'text/json' })],
        ['empty content type', () => http.raw('/sagas/order', json, { 'content-type': '' })],
        // A Buffer body goes without any content type.
        ['no content type', () => http.request('POST', '/sagas/order', { body: Buffer.from(json) })],
        ['unknown saga', () => http.raw('/sagas/nope', json, { 'content-type': 'text/plain' })],
        ['cancel', () => http.raw(`/sagas/${UNKNOWN_ID}/cancel`, '{}', { 'content-type': 'text/plain' })],
      ];
      for (const [what, send] of sends) {
        const response = await send();
        assertError(response, 415);
        assert.equal(
          response.body.message,
          'Request body must be JSON, sent with "Content-Type: application/json"',
          what,
        );
      }
      assert.equal(await sagaCount(t), before);

      // Without a body (fetch sends content-length 0), retry and cancel reach their route, content type or not.
      const id = assertStarted(
        await http.post('/sagas/scripted', { script: { a: ['slow'] } }),
        202,
        'scripted',
      );
      assertError(await http.request('POST', `/sagas/${id}/retry`), 409);
      assertError(
        await http.request('POST', `/sagas/${id}/retry`, { headers: { 'content-type': 'text/plain' } }),
        409,
      );
      assert.equal((await http.request('POST', `/sagas/${id}/cancel`)).status, 202);
    });

    it('404 for an unknown saga name, whatever the body', async () => {
      assertError(await http.post('/sagas/nope', orderInput()), 404, /nope/);
      assertError(await http.post('/sagas/ORDER', orderInput()), 404, /ORDER/);
      assertError(await http.post('/sagas/%E2%9C%93%20x', orderInput()), 404, /✓ x/);
      assertError(await http.post('/sagas/nope', { wrong: true }), 404);
      assertError(await http.post('/sagas/nope', { orderId: 'a\u0000' }), 404);
      const long = await http.post(`/sagas/${'x'.repeat(5000)}`, orderInput());
      assertError(long, 404);
      assert.ok(long.body.message.length < 150, 'a long unknown name is not echoed in full');
    });

    it('431 in the error shape when the URL or headers exceed what Node accepts', async () => {
      assertError(await http.get(`/sagas?name=${'a'.repeat(20_000)}`), 431, /16 KiB/);
      assertError(await http.get('/sagas', { 'x-filler': 'b'.repeat(20_000) }), 431);
    });

    it('413 above 1 MiB (with or without Content-Length); exactly 1 MiB is accepted', async () => {
      const before = await sagaCount(t);
      assertError(await http.raw('/sagas/order', orderOfSize(ONE_MIB + 1)), 413, /1 MiB/);
      assertError(await http.raw('/sagas/order', orderOfSize(4 * ONE_MIB)), 413);
      // Chunked, so the server only finds out while reading.
      const chunks = [orderOfSize(ONE_MIB + 10)];
      const stream = new ReadableStream({
        pull(controller) {
          const next = chunks.shift();
          if (next === undefined) controller.close();
          else
            for (let i = 0; i < next.length; i += 64 * 1024)
              controller.enqueue(Buffer.from(next.slice(i, i + 64 * 1024)));
        },
      });
      const response = await fetch(`${http.baseUrl}/sagas/order`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: stream,
        duplex: 'half',
      } as RequestInit);
      const text = await response.text();
      assertError({ status: response.status, headers: response.headers, body: JSON.parse(text), text }, 413);
      assert.equal(await sagaCount(t), before);

      assert.equal(Buffer.byteLength(orderOfSize(ONE_MIB)), ONE_MIB);
      assertStarted(await http.raw('/sagas/order', orderOfSize(ONE_MIB)), 202, 'order');
    });
  });

  describe('GET /sagas/{id}', () => {
    it('200 with the full view of a completed saga', async () => {
      const input = orderInput();
      const id = assertStarted(await http.post('/sagas/order', input), 202, 'order');
      await waitForSaga(t.http, id);
      const response = await http.get(`/sagas/${id}`);
      assert.equal(response.status, 200);
      assert.match(response.headers.get('content-type') ?? '', /^application\/json/);
      const saga = response.body;
      assertKeysWithin(saga, SAGA_VIEW_KEYS, 'the saga view');
      assert.equal(saga.id, id);
      assert.equal(saga.name, 'order');
      assert.equal(saga.version, 1);
      assert.equal(saga.status, 'completed');
      assert.deepEqual(saga.input, input);
      assert.equal(typeof saga.output, 'object');
      assert.equal('error' in saga, false);
      assertIso(saga.createdAt, 'createdAt');
      assertIso(saga.updatedAt, 'updatedAt');
      assertIso(saga.completedAt, 'completedAt');
      assert.ok(saga.createdAt <= saga.updatedAt && saga.createdAt <= saga.completedAt);
      assert.deepEqual(
        saga.steps.map((s: { name: string }) => s.name),
        ['reserveInventory', 'chargePayment', 'sendConfirmation'],
      );
      for (const step of saga.steps) {
        assertKeysWithin(step, STEP_KEYS, `step ${step.name}`);
        assert.equal(step.status, 'completed');
        assert.equal(step.attempts, 1);
        assertIso(step.startedAt, `${step.name}.startedAt`);
        assertIso(step.finishedAt, `${step.name}.finishedAt`);
        assert.ok(step.startedAt <= step.finishedAt);
        assert.equal('error' in step, false);
        assert.equal('compensation' in step, false);
      }
    });

    it('200 with errors as { name, message, retryable } and compensations, for a compensated saga', async () => {
      const id = assertStarted(
        await http.post('/sagas/order', orderInput({ card: '4000000000000002' })),
        202,
        'order',
      );
      await waitForSaga(t.http, id);
      const saga = (await http.get(`/sagas/${id}`)).body;
      assertKeysWithin(saga, SAGA_VIEW_KEYS, 'the saga view');
      assert.equal(saga.status, 'compensated');
      assert.deepEqual(Object.keys(saga.error).sort(), ['message', 'name', 'retryable']);
      assert.equal(saga.error.retryable, false);
      assertIso(saga.completedAt, 'completedAt');
      const [reserve, charge, confirm] = saga.steps;
      for (const step of saga.steps) {
        assertKeysWithin(step, STEP_KEYS, `step ${step.name}`);
        assert.ok(STEP_STATUSES.includes(step.status), step.status);
      }
      assert.equal(reserve.status, 'compensated');
      assertKeysWithin(reserve.compensation, COMPENSATION_KEYS, 'a compensation');
      assert.equal(reserve.compensation.status, 'completed');
      assert.equal(reserve.compensation.attempts, 1);
      assertIso(reserve.compensation.startedAt, 'compensation.startedAt');
      assertIso(reserve.compensation.finishedAt, 'compensation.finishedAt');
      assert.deepEqual(Object.keys(charge.error).sort(), ['message', 'name', 'retryable']);
      assert.equal(charge.error.retryable, false);
      assert.equal(confirm.status, 'skipped');
      assert.equal(confirm.attempts, 0);
      assert.equal('startedAt' in confirm, false);
    });

    it('400 for a malformed id, 404 for an unknown one', async () => {
      for (const id of MALFORMED_IDS) assertError(await http.get(`/sagas/${id}`), 400, /id/);
      assertError(await http.get(`/sagas/${UNKNOWN_ID}`), 404, new RegExp(UNKNOWN_ID));
      assertError(await http.get(`/sagas/${UNKNOWN_ID.toUpperCase()}`), 404);
    });
  });

  describe('GET /sagas', () => {
    /** Created one after another, so oldest first; the fatal ones end compensated, the others completed. */
    const created: string[] = [];
    const fatal = new Set<string>();

    before(async () => {
      for (let i = 0; i < 24; i++) {
        const bad = i % 6 === 5;
        const response = await http.post('/sagas/scripted', { script: bad ? { a: ['fatal'] } : {} });
        const id = assertStarted(response, 202, 'scripted');
        created.push(id);
        if (bad) fatal.add(id);
      }
      for (const id of created) await waitForSaga(t.http, id);
    });

    async function walk(query: string): Promise<{ pages: any[][]; ids: string[] }> {
      const pages: any[][] = [];
      let cursor: string | null = null;
      do {
        const response: HttpResponse = await http.get(`/sagas?${query}${cursor ? `&cursor=${cursor}` : ''}`);
        assert.equal(response.status, 200, response.text);
        assert.deepEqual(Object.keys(response.body).sort(), ['items', 'nextCursor']);
        pages.push(response.body.items);
        cursor = response.body.nextCursor;
        if (cursor !== null) assert.match(cursor, UUID);
        assert.ok(pages.length < 100, 'pagination does not end');
      } while (cursor !== null);
      return { pages, ids: pages.flat().map((s) => s.id) };
    }

    it('lists newest first, views without steps, filtered by name', async () => {
      const response = await http.get('/sagas?name=scripted&limit=100');
      assert.equal(response.status, 200);
      const items = response.body.items;
      assert.equal(response.body.nextCursor, null);
      const [{ count }] = await t.sql`SELECT count(*)::int AS count FROM sagas WHERE name = 'scripted'`;
      assert.equal(items.length, count);
      for (const item of items) {
        assertKeysWithin(
          item,
          SAGA_VIEW_KEYS.filter((k) => k !== 'steps'),
          'a listed saga',
        );
        assert.equal(item.name, 'scripted');
        assertIso(item.createdAt, 'createdAt');
      }
      for (let i = 1; i < items.length; i++)
        assert.ok(items[i - 1].createdAt >= items[i].createdAt, 'not newest first');
      const ours = items.map((s: { id: string }) => s.id).filter((id: string) => created.includes(id));
      assert.deepEqual(ours, [...created].reverse());
      const first = items.find((s: { id: string }) => s.id === created[0]);
      assert.deepEqual(first.input, { script: {} });
      assert.equal(first.status, 'completed');

      const orders = (await http.get('/sagas?name=order&limit=100')).body.items;
      assert.ok(orders.length > 0);
      assert.ok(orders.every((s: { name: string }) => s.name === 'order'));
      assert.deepEqual((await http.get('/sagas?name=nothing-by-this-name')).body, {
        items: [],
        nextCursor: null,
      });
    });

    it('filters by status', async () => {
      const compensated = (await walk('name=scripted&status=compensated&limit=100')).ids;
      assert.deepEqual(
        compensated.filter((id) => created.includes(id)),
        created.filter((id) => fatal.has(id)).reverse(),
      );
      const completed = (await http.get('/sagas?status=completed&limit=100')).body.items;
      assert.ok(completed.every((s: { status: string }) => s.status === 'completed'));
      assert.ok(completed.some((s: { id: string }) => s.id === created[0]));
      assert.ok(!completed.some((s: { id: string }) => fatal.has(s.id)));
    });

    it('paginates with nextCursor over every item once, ending with nextCursor null', async () => {
      const all = (await http.get('/sagas?name=scripted&limit=100')).body.items.map(
        (s: { id: string }) => s.id,
      );
      for (const limit of [1, 2, 7]) {
        const { pages, ids } = await walk(`name=scripted&limit=${limit}`);
        assert.ok(pages.every((page) => page.length <= limit));
        assert.ok(pages.slice(0, -1).every((page) => page.length === limit));
        assert.equal(new Set(ids).size, ids.length, 'duplicates across pages');
        assert.deepEqual(ids, all);
      }
      // Unfiltered, across names: every stored saga exactly once (nothing is started meanwhile).
      const unfiltered = await walk('limit=9');
      assert.equal(new Set(unfiltered.ids).size, unfiltered.ids.length, 'duplicates across pages');
      const stored = await t.sql`SELECT id FROM sagas`;
      assert.deepEqual([...unfiltered.ids].sort(), stored.map((r) => r.id as string).sort());
    });

    it('returns 20 items by default', async () => {
      const response = await http.get('/sagas?name=scripted');
      assert.equal(response.status, 200);
      assert.equal(response.body.items.length, 20);
      assert.match(response.body.nextCursor, UUID);
    });

    it('400 for a bad filter', async () => {
      const bad: [string, string][] = [
        ['status=bogus', 'status'],
        ['status=COMPLETED', 'status'],
        ['limit=0', 'limit'],
        ['limit=101', 'limit'],
        ['limit=abc', 'limit'],
        ['limit=-1', 'limit'],
        ['limit=1.5', 'limit'],
        ['limit=', 'limit'],
        ['cursor=not-a-uuid', 'cursor'],
        [`cursor=${UNKNOWN_ID}x`, 'cursor'],
        ['limit=1&limit=2', 'limit'],
        [`name=${'n'.repeat(101)}`, 'name'],
        ['name=a%00b', 'name'],
      ];
      for (const [query, path] of bad) assertIssues(await http.get(`/sagas?${query}`), [path]);
      for (const query of ['foo=1', 'status=completed&sort=asc', 'name[a]=order']) {
        const response = await http.get(`/sagas?${query}`);
        assertError(response, 400);
        assert.ok(response.body.issues?.length > 0);
      }
      assert.equal((await http.get('/sagas?limit=1')).status, 200);
      assert.equal((await http.get('/sagas?limit=100')).status, 200);
      assert.equal((await http.get(`/sagas?cursor=${UNKNOWN_ID}`)).status, 200);
    });
  });

  describe('GET /sagas/{id}/events', () => {
    it('200 oldest first, numbered 1..n', async () => {
      const id = assertStarted(await http.post('/sagas/order', orderInput()), 202, 'order');
      await waitForSaga(t.http, id);
      const response = await http.get(`/sagas/${id}/events`);
      assert.equal(response.status, 200);
      assert.deepEqual(Object.keys(response.body), ['items']);
      const items = response.body.items;
      assert.deepEqual(
        items.map((e: { seq: number }) => e.seq),
        items.map((_: unknown, i: number) => i + 1),
      );
      assert.equal(items[0].type, 'saga_started');
      assert.equal(items.at(-1).type, 'saga_completed');
      for (let i = 0; i < items.length; i++) {
        assertKeysWithin(items[i], ['seq', 'type', 'step', 'attempt', 'at', 'data'], 'an event');
        assert.equal(typeof items[i].type, 'string');
        assertIso(items[i].at, 'at');
        if (i > 0) assert.ok(items[i - 1].at <= items[i].at, 'events not oldest first');
      }
      const completedSteps = items.filter((e: { type: string }) => e.type === 'step_completed');
      assert.deepEqual(
        completedSteps.map((e: { step: string }) => e.step),
        ['reserveInventory', 'chargePayment', 'sendConfirmation'],
      );
    });

    it('400 for a malformed id, 404 for an unknown one', async () => {
      for (const id of MALFORMED_IDS) assertError(await http.get(`/sagas/${id}/events`), 400);
      assertError(await http.get(`/sagas/${UNKNOWN_ID}/events`), 404);
    });
  });

  describe('POST /sagas/{id}/cancel and /retry', () => {
    it('404 for an unknown id, 400 for a malformed one', async () => {
      for (const action of ['cancel', 'retry']) {
        assertError(await http.post(`/sagas/${UNKNOWN_ID}/${action}`), 404);
        for (const id of MALFORMED_IDS) assertError(await http.post(`/sagas/${id}/${action}`), 400);
      }
    });

    it('409 to cancel a terminal saga and to retry a saga that is not failed', async () => {
      const id = assertStarted(await http.post('/sagas/order', orderInput()), 202, 'order');
      const retryRunning = await http.post(`/sagas/${id}/retry`);
      assertError(retryRunning, 409);
      await waitForSaga(t.http, id);
      assertError(await http.post(`/sagas/${id}/cancel`), 409, /completed/);
      assertError(await http.post(`/sagas/${id}/retry`), 409);
      assert.equal((await http.get(`/sagas/${id}`)).body.status, 'completed');

      const declined = assertStarted(
        await http.post('/sagas/order', orderInput({ card: '4000000000000002' })),
        202,
        'order',
      );
      await waitForSaga(t.http, declined);
      assertError(await http.post(`/sagas/${declined}/cancel`), 409);
      assertError(await http.post(`/sagas/${declined}/retry`), 409);
    });

    it('202 { id, name, status } to cancel an active saga, which then ends compensated', async () => {
      const id = assertStarted(
        await http.post('/sagas/scripted', { script: { a: ['slow'], b: ['slow'], c: ['slow'] } }),
        202,
        'scripted',
      );
      const cancelled = await http.post(`/sagas/${id}/cancel`);
      assert.equal(cancelled.status, 202, cancelled.text);
      assert.deepEqual(Object.keys(cancelled.body).sort(), ['id', 'name', 'status']);
      assert.equal(cancelled.body.id, id);
      assert.equal(cancelled.body.name, 'scripted');
      assert.ok(SAGA_STATUSES.includes(cancelled.body.status));
      assert.equal((await waitForSaga(t.http, id)).status, 'compensated');
      assertError(await http.post(`/sagas/${id}/cancel`), 409);
    });
  });

  describe('GET /health and /metrics', () => {
    it('/health is 200 { status: ok, postgres: up, redis: up }', async () => {
      const response = await http.get('/health');
      assert.equal(response.status, 200);
      assert.deepEqual(response.body, { status: 'ok', postgres: 'up', redis: 'up' });
    });

    it('/metrics is Prometheus text with sagas by name and status and step attempts', async () => {
      const response = await http.get('/metrics');
      assert.equal(response.status, 200);
      assert.match(response.headers.get('content-type') ?? '', /^text\/plain/);
      assert.ok(response.text.includes('saga_sagas{'), 'no saga_sagas gauge');
      assert.ok(response.text.includes('saga_attempts_total'), 'no saga_attempts_total counter');
      const rows = await t.sql`SELECT name, status, count(*)::int AS count FROM sagas GROUP BY name, status`;
      const completed = rows.find((r) => r.name === 'scripted' && r.status === 'completed');
      assert.ok(completed);
      const line = response.text
        .split('\n')
        .find(
          (l) =>
            l.startsWith('saga_sagas{') && l.includes('name="scripted"') && l.includes('status="completed"'),
        );
      assert.ok(line, 'no saga_sagas line for completed scripted sagas');
      assert.equal(Number(line.split(' ').at(-1)), completed.count);
    });
  });

  describe('a known path with a method it does not serve', () => {
    it('405 with an Allow header listing the methods that path serves; the error shape; nothing written', async () => {
      const id = assertStarted(await http.post('/sagas/order', orderInput()), 202, 'order');
      const before = await sagaCount(t);
      // `/sagas/{id}` and `/sagas/order` are also `/sagas/{name}`: POST is served there.
      const cases: [string, string, string][] = [
        ['DELETE', `/sagas/${id}`, 'GET, HEAD, POST'],
        ['PUT', `/sagas/${id}`, 'GET, HEAD, POST'],
        ['PUT', '/sagas/order', 'GET, HEAD, POST'],
        ['PATCH', '/sagas/order', 'GET, HEAD, POST'],
        ['DELETE', '/sagas', 'GET, HEAD'],
        ['POST', '/sagas', 'GET, HEAD'],
        ['GET', `/sagas/${id}/cancel`, 'POST'],
        ['DELETE', `/sagas/${id}/retry`, 'POST'],
        ['PUT', `/sagas/${id}/events`, 'GET, HEAD'],
        ['POST', '/health', 'GET, HEAD'],
        ['DELETE', '/metrics', 'GET, HEAD'],
        ['OPTIONS', '/sagas/order', 'GET, HEAD, POST'],
      ];
      for (const [method, path, allow] of cases) {
        const response = await http.request(method, path, { json: bodyFor(method, orderInput()) });
        assertError(response, 405, new RegExp(`^${method} is not allowed here`));
        assert.equal(response.headers.get('allow'), allow, `${method} ${path}`);
      }
      const head = await http.request('HEAD', `/sagas/${id}/cancel`);
      assert.equal(head.status, 405);
      assert.equal(head.headers.get('allow'), 'POST');
      // Every method the header lists is served: none of them answers 405.
      for (const method of ['GET', 'HEAD', 'POST'])
        assert.notEqual((await http.request(method, `/sagas/${id}`)).status, 405, method);
      assert.equal(await sagaCount(t), before);
    });

    it('unknown paths stay 404, and so do 404s of a served method, without an Allow header', async () => {
      const cases: [string, string][] = [
        ['GET', '/nothing-here'],
        ['DELETE', '/nothing-here'],
        ['GET', '/'],
        ['POST', '/health/x'],
        ['GET', `/sagas/${UNKNOWN_ID}/cancel/now`],
        ['GET', `/sagas/${UNKNOWN_ID}`],
        ['POST', `/sagas/${UNKNOWN_ID}/cancel`],
        ['POST', '/sagas/nope'],
      ];
      for (const [method, path] of cases) {
        const response = await http.request(method, path, { json: bodyFor(method, {}) });
        assertError(response, 404);
        assert.equal(response.headers.get('allow'), null, `${method} ${path}`);
      }
    });
  });

  describe('with API_KEY set', () => {
    let keyed: TestApp;
    let api: RecordingClient;

    before(async () => {
      keyed = await startTestApp({ env: { API_KEY } });
      api = client(keyed);
    });
    after(() => keyed?.close());

    it('401 in the error shape on every saga route without the right bearer key', async () => {
      const wrong: (Record<string, string> | undefined)[] = [
        undefined,
        { authorization: 'Bearer wrong-key-wrong-key-1' },
        { authorization: API_KEY },
        { authorization: `Basic ${API_KEY}` },
        { authorization: `Bearer ${API_KEY}x` },
        { authorization: `Bearer ${API_KEY.slice(0, -1)}` },
        { authorization: 'Bearer' },
      ];
      for (const headers of wrong) {
        assertError(await api.post('/sagas/order', orderInput(), headers), 401);
        assertError(await api.get('/sagas', headers), 401);
        assertError(await api.get(`/sagas/${UNKNOWN_ID}`, headers), 401);
        assertError(await api.get(`/sagas/${UNKNOWN_ID}/events`, headers), 401);
        assertError(await api.request('POST', `/sagas/${UNKNOWN_ID}/cancel`, { headers }), 401);
        assertError(await api.request('POST', `/sagas/${UNKNOWN_ID}/retry`, { headers }), 401);
      }
      assert.equal(await sagaCount(keyed), 0);
    });

    it('serves saga routes with the right key', async () => {
      const auth = { authorization: `Bearer ${API_KEY}` };
      const id = assertStarted(await api.post('/sagas/order', orderInput(), auth), 202, 'order');
      assert.equal((await api.get(`/sagas/${id}`, auth)).status, 200);
      assert.equal((await api.get('/sagas', auth)).body.items[0].id, id);
      assert.equal((await api.get(`/sagas/${id}/events`, auth)).status, 200);
      assertError(await api.get(`/sagas/${UNKNOWN_ID}`, auth), 404);
      assertError(await api.get('/sagas/bad-id', auth), 400);
    });

    it('/health and /metrics need no key', async () => {
      assert.deepEqual((await api.get('/health')).body, { status: 'ok', postgres: 'up', redis: 'up' });
      const metrics = await api.get('/metrics');
      assert.equal(metrics.status, 200);
      assert.ok(metrics.text.includes('saga_sagas'));
    });
  });

  describe('with SAGA_ROLE=worker', () => {
    let worker: TestApp;
    let api: RecordingClient;

    before(async () => {
      worker = await startTestApp({ env: { SAGA_ROLE: 'worker' } });
      api = client(worker);
    });
    after(() => worker?.close());

    it('saga routes are 404, /health and /metrics are served', async () => {
      assertError(await api.post('/sagas/order', orderInput()), 404);
      assertError(await api.get('/sagas'), 404);
      assertError(await api.get(`/sagas/${UNKNOWN_ID}`), 404);
      assertError(await api.get(`/sagas/${UNKNOWN_ID}/events`), 404);
      assertError(await api.post(`/sagas/${UNKNOWN_ID}/cancel`), 404);
      assertError(await api.post(`/sagas/${UNKNOWN_ID}/retry`), 404);
      assert.equal(await sagaCount(worker), 0);
      assert.deepEqual((await api.get('/health')).body, { status: 'ok', postgres: 'up', redis: 'up' });
      assert.equal((await api.get('/metrics')).status, 200);
    });
  });

  describe('bad requests write nothing', () => {
    // An API-only process runs no steps, so Postgres and Redis change only when a request writes.
    let quiet: TestApp;
    let api: RecordingClient;

    before(async () => {
      quiet = await startTestApp({ env: { SAGA_ROLE: 'api' } });
      api = client(quiet);
    });
    after(() => quiet?.close());

    it('leaves sagas, saga_units, saga_events and the Redis keys unchanged', async () => {
      const existing = assertStarted(await api.post('/sagas/order', orderInput()), 202, 'order');
      const keyed = `${Date.now()}`;
      const keyedInput = orderInput();
      assertStarted(await api.post('/sagas/order', keyedInput, { 'Idempotency-Key': keyed }), 202, 'order');
      const rowsBefore = await rowCounts(quiet);
      const keysBefore = await redisKeys(quiet);
      assert.ok(keysBefore.length > 0, 'no Redis keys to compare');

      const bad: [number, () => Promise<HttpResponse>][] = [
        [400, () => api.raw('/sagas/order', '{bad')],
        [400, () => api.raw('/sagas/order', 'null')],
        [400, () => api.raw('/sagas/order', '"string"')],
        [400, () => api.post('/sagas/order', [orderInput()])],
        [400, () => api.post('/sagas/order', orderInput({ items: [{ sku: 'sku-1', quantity: 'x' }] }))],
        [400, () => api.post('/sagas/order', orderInput({ card: '4242abcd42424242' }))],
        [400, () => api.post('/sagas/order', orderInput({ orderId: 'nul\u0000' }))],
        [
          400,
          () =>
            api.raw(
              '/sagas/order',
              JSON.stringify(orderInput({ items: 0 })).replace('0', '['.repeat(5000) + ']'.repeat(5000)),
            ),
        ],
        [400, () => api.post('/sagas/order', orderInput(), { 'Idempotency-Key': 'x'.repeat(300) })],
        [400, () => api.post('/sagas/order', orderInput(), { 'Idempotency-Key': 'a b' })],
        [415, () => api.raw('/sagas/order', JSON.stringify(orderInput()), { 'content-type': 'text/plain' })],
        [415, () => api.request('POST', '/sagas/order', { body: Buffer.from(JSON.stringify(orderInput())) })],
        [
          415,
          () =>
            api.raw('/sagas/order', JSON.stringify(orderInput()), {
              'content-type': 'application/json; charset=latin1',
            }),
        ],
        [404, () => api.post('/sagas/nope', orderInput())],
        [404, () => api.post('/sagas/%F0%9F%92%A5', orderInput())],
        [400, () => api.post('/sagas/%E2%9C', orderInput())],
        [413, () => api.raw('/sagas/order', orderOfSize(ONE_MIB + 1))],
        [400, () => api.get('/sagas/not-an-id')],
        [404, () => api.get(`/sagas/${UNKNOWN_ID}`)],
        [400, () => api.get('/sagas/not-an-id/events')],
        [404, () => api.get(`/sagas/${UNKNOWN_ID}/events`)],
        [400, () => api.post('/sagas/not-an-id/cancel')],
        [404, () => api.post(`/sagas/${UNKNOWN_ID}/cancel`)],
        [400, () => api.post('/sagas/not-an-id/retry')],
        [404, () => api.post(`/sagas/${UNKNOWN_ID}/retry`)],
        [409, () => api.post(`/sagas/${existing}/retry`)],
        [
          400,
          () =>
            api.request('POST', `/sagas/${existing}/cancel`, {
              body: '{',
              headers: { 'content-type': 'application/json' },
            }),
        ],
        [400, () => api.get('/sagas?status=bogus')],
        [400, () => api.get('/sagas?limit=0')],
        [400, () => api.get('/sagas?cursor=zzz')],
        [400, () => api.get('/sagas?foo=bar')],
        [400, () => api.get('/sagas?name=%00')],
        [405, () => api.request('DELETE', `/sagas/${existing}`)],
        [409, () => api.post('/sagas/order', { ...keyedInput, amount: 1 }, { 'Idempotency-Key': keyed })],
        [404, () => api.get('/nothing-here')],
      ];
      for (const [status, send] of bad) assertError(await send(), status);
      // Replaying an Idempotency-Key is not a write either.
      assertStarted(await api.post('/sagas/order', keyedInput, { 'Idempotency-Key': keyed }), 200, 'order');

      assert.deepEqual(await rowCounts(quiet), rowsBefore);
      assert.deepEqual(await redisKeys(quiet), keysBefore);

      // The counts do see a write: one more saga, its three steps, its start event and its job.
      const another = assertStarted(await api.post('/sagas/order', orderInput()), 202, 'order');
      assert.deepEqual(await rowCounts(quiet), {
        sagas: rowsBefore.sagas + 1,
        steps: rowsBefore.steps + 3,
        events: rowsBefore.events + 1,
      });
      const keysAfter = await redisKeys(quiet);
      assert.ok(keysAfter.length > keysBefore.length, 'a started saga added no Redis key');
      assert.ok(
        keysAfter.some((key) => key.includes(another)),
        'no Redis key for the new saga',
      );
    });
  });

  it('never sends a stack trace in a response body', () => {
    assert.ok(received.length > 200, `only ${received.length} responses recorded`);
    for (const response of received) assertNoStack(response);
  });
});
