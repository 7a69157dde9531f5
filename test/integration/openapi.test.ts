import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { INestApplication } from '@nestjs/common';
import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { z } from 'zod';
import { OrderInput } from '../../sagas/order/order.input.js';
import { Approval } from '../../sagas/trip/trip.input.js';
import { listQuerySchema, startQuerySchema } from '../../src/saga/api/request-schemas.js';
import { SagaRegistry } from '../../src/saga/definition/saga-registry.js';
import { HttpClient, type HttpResponse } from '../support/http-client.js';
import { orderInput, waitForSaga } from '../support/sagas.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

// GET /openapi.json and GET /docs (DESIGN.md HTTP API): the document is valid OpenAPI 3.1, documents
// every route the app serves (read from Express's router, not from a list), carries each saga's input
// and each signal's payload, and describes what the routes really answer.

type Operation = {
  operationId: string;
  parameters: { name: string; in: string; required: boolean }[];
  requestBody?: { content: { 'application/json': { schema: { $ref?: string } } } };
  responses: Record<string, { content?: Record<string, unknown> }>;
  security?: unknown[];
};
type Document = {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, unknown>; securitySchemes?: Record<string, unknown> };
};

const API_KEY = 'openapi-test-key-123';
const UNKNOWN_ID = '00000000-0000-7000-8000-000000000000';
const TRIP = {
  travelerId: 'traveler-1',
  flight: { from: 'LHR', to: 'LIS' },
  hotel: { city: 'Lisbon', nights: 3 },
  amount: 980,
  card: '4242424242424242',
};

/** The routes Express serves, as the app registered them: `{ path: '/sagas/:id', method: 'get' }`. */
function servedRoutes(app: INestApplication): { path: string; method: string }[] {
  type Layer = { route?: { path: string; methods: Record<string, boolean> } };
  const stack = (app.getHttpAdapter().getInstance() as { router: { stack: Layer[] } }).router.stack;
  return stack.flatMap(({ route }) =>
    route ? Object.keys(route.methods).map((method) => ({ path: route.path, method })) : [],
  );
}

const segments = (path: string) => path.split('/').filter(Boolean);

/**
 * Whether Express's `served` route serves the documented path: a parameter (`:name`) serves any
 * segment, a documented parameter (`{id}`) needs one, and other segments are equal.
 */
function serves(served: string, documented: string): boolean {
  const [a, b] = [segments(served), segments(documented)];
  return (
    a.length === b.length &&
    a.every((segment, i) => (segment.startsWith(':') ? true : segment === b[i])) &&
    b.every((segment, i) => !segment.startsWith('{') || a[i].startsWith(':'))
  );
}

/** The documented path a request went to: a literal segment before a parameter. */
function documentedPath(document: Document, method: string, url: string): string | undefined {
  const path = url.split('?')[0];
  const matching = Object.keys(document.paths).filter(
    (candidate) =>
      document.paths[candidate][method] &&
      segments(candidate).length === segments(path).length &&
      segments(candidate).every((segment, i) => segment.startsWith('{') || segment === segments(path)[i]),
  );
  const parameters = (candidate: string) => segments(candidate).filter((s) => s.startsWith('{')).length;
  return matching.sort((x, y) => parameters(x) - parameters(y))[0];
}

const pointerSegment = (segment: string) =>
  encodeURIComponent(segment.replace(/~/g, '~0').replace(/\//g, '~1'));

/** Checks each response against what the document says of its operation and status. */
class DocumentedClient extends HttpClient {
  private readonly ajv = new Ajv2020({ strict: false, allErrors: true });
  checked = 0;

  constructor(
    baseUrl: string,
    private readonly document: Document,
  ) {
    super(baseUrl);
    addFormats.default(this.ajv);
    this.ajv.addSchema(document, 'https://openapi.test/document');
  }

  override async request<T = any>(
    method: string,
    url: string,
    options: { json?: unknown; body?: string | Buffer; headers?: Record<string, string> } = {},
  ): Promise<HttpResponse<T>> {
    const response = await super.request<T>(method, url, options);
    const lower = method.toLowerCase();
    const path = documentedPath(this.document, lower, url);
    assert.ok(path, `${method} ${url} is not documented`);
    const status = String(response.status);
    const documented = this.document.paths[path][lower].responses[status];
    assert.ok(documented, `${method} ${path} answered ${status}, which its operation does not document`);
    if (documented.content?.['application/json']) {
      const pointer = ['paths', path, lower, 'responses', status, 'content', 'application/json', 'schema']
        .map(pointerSegment)
        .join('/');
      const validate = this.ajv.compile({ $ref: `https://openapi.test/document#/${pointer}` });
      assert.ok(
        validate(response.body),
        `${method} ${url} ${status}: ${this.ajv.errorsText(validate.errors)}\n${response.text}`,
      );
      this.checked++;
    }
    return response;
  }
}

async function fetchDocument(t: TestApp, headers?: Record<string, string>): Promise<Document> {
  const response = await t.http.get<Document>('/openapi.json', headers);
  assert.equal(response.status, 200, response.text);
  assert.match(response.headers.get('content-type') ?? '', /^application\/json/);
  return response.body;
}

describe('OpenAPI document and docs page', () => {
  let t: TestApp;
  let document: Document;

  before(async () => {
    t = await startTestApp();
    document = await fetchDocument(t);
  });

  after(async () => {
    await t?.close();
  });

  it('is a valid OpenAPI 3.1 document whose schemas are valid JSON Schema 2020-12', async () => {
    const validator = new Validator();
    const result = await validator.validate(document);
    assert.deepEqual(result.errors ?? [], []);
    assert.equal(result.valid, true);
    assert.equal(validator.version, '3.1');
    assert.equal(document.openapi, '3.1.1');
    const ajv = new Ajv2020({ strict: false });
    for (const [name, schema] of Object.entries(document.components.schemas)) {
      assert.ok(ajv.validateSchema(schema as object), `${name}: ${ajv.errorsText()}`);
    }
    // Without API_KEY, nothing needs one.
    assert.equal(document.components.securitySchemes, undefined);
  });

  it('documents every route the app serves, with its methods, and nothing it does not serve', () => {
    const served = servedRoutes(t.app);
    assert.ok(served.length >= 10, `only ${served.length} routes found in Express's router`);
    const undocumented = served.filter(
      ({ path, method }) =>
        !Object.entries(document.paths).some(
          ([documented, item]) => item[method] && serves(path, documented),
        ),
    );
    assert.deepEqual(
      undocumented,
      [],
      'routes without @OpenApiOperation (src/saga/api/openapi/openapi-operation.decorator.ts)',
    );
    const unserved = Object.entries(document.paths).flatMap(([documented, item]) =>
      Object.keys(item)
        .filter(
          (method) => !served.some((route) => route.method === method && serves(route.path, documented)),
        )
        .map((method) => `${method} ${documented}`),
    );
    assert.deepEqual(unserved, []);
    const operationIds = Object.values(document.paths).flatMap((item) =>
      Object.values(item).map((o) => o.operationId),
    );
    assert.equal(new Set(operationIds).size, operationIds.length, 'operation ids are unique');
  });

  it("has one start operation per saga, with the saga's input schema as its body", () => {
    const names = [
      ...new Set(
        t.app
          .get(SagaRegistry)
          .all()
          .map((d) => d.name),
      ),
    ].sort();
    assert.deepEqual(names, ['order', 'payment', 'trip']);
    for (const name of names) {
      const start = document.paths[`/sagas/${name}`]?.post;
      assert.ok(start, `no POST /sagas/${name}`);
      assert.equal(
        start.requestBody?.content['application/json'].schema.$ref,
        `#/components/schemas/SagaInput.${name}`,
      );
    }
    const { $schema: _, ...orderInput } = z.toJSONSchema(OrderInput, { io: 'input' });
    assert.deepEqual(document.components.schemas['SagaInput.order'], orderInput);
    const order = document.components.schemas['SagaInput.order'] as { required: string[] };
    assert.deepEqual(order.required.sort(), ['amount', 'card', 'customerId', 'items', 'orderId']);
  });

  it('documents the query parameters and the Idempotency-Key header as the routes parse them', () => {
    const names = (operation: Operation, where: string) =>
      operation.parameters.filter((p) => p.in === where).map((p) => p.name);
    const start = document.paths['/sagas/order'].post;
    const parsed = z.toJSONSchema(startQuerySchema, { io: 'input' }) as { properties: object };
    assert.deepEqual(names(start, 'query'), Object.keys(parsed.properties));
    assert.ok(names(start, 'query').includes('delayMs'));
    assert.deepEqual(names(start, 'header'), ['Idempotency-Key']);
    assert.equal(start.parameters.find((p) => p.name === 'Idempotency-Key')?.required, false);
    assert.deepEqual(names(document.paths['/sagas'].get, 'query'), Object.keys(listQuerySchema.shape));
    assert.deepEqual(names(document.paths['/sagas/{id}'].get, 'path'), ['id']);
    for (const [status, response] of Object.entries(start.responses)) {
      if (Number(status) >= 400)
        assert.deepEqual(response.content, {
          'application/json': { schema: { $ref: '#/components/schemas/Error' } },
        });
    }
    assert.deepEqual(Object.keys(start.responses).sort(), [
      '200',
      '202',
      '400',
      '404',
      '409',
      '413',
      '415',
      '503',
    ]);
  });

  it("documents each signal's payload on its own operation", () => {
    const signal = document.paths['/sagas/{id}/signals/approval']?.post;
    assert.ok(signal, 'no POST /sagas/{id}/signals/approval');
    assert.equal(
      signal.requestBody?.content['application/json'].schema.$ref,
      '#/components/schemas/SignalPayload.approval',
    );
    const { $schema: _, ...approval } = z.toJSONSchema(Approval, { io: 'input' });
    assert.deepEqual(document.components.schemas['SignalPayload.approval'], approval);
    assert.deepEqual(
      signal.parameters.map((p) => `${p.in} ${p.name}`),
      ['path id', 'header Idempotency-Key'],
    );
  });

  it('describes what the routes answer: every status and body checked against the document', async () => {
    const http = new DocumentedClient(t.http.baseUrl, document);
    const key = { 'idempotency-key': `openapi-${Date.now()}` };
    const input = orderInput();
    const started = await http.post('/sagas/order', input, key);
    assert.equal(started.status, 202);
    assert.equal((await http.post('/sagas/order', input, key)).status, 200);
    assert.equal((await http.post('/sagas/order', { ...input, amount: 1 }, key)).status, 409);
    assert.equal((await http.post('/sagas/order', { ...input, items: [] })).status, 400);
    assert.equal((await http.post('/sagas/order?delayMs=soon', input)).status, 400);
    const declined = await http.post('/sagas/order', orderInput({ card: '4000000000000002' }));
    await waitForSaga(t.http, started.body.id);
    await waitForSaga(t.http, declined.body.id);
    assert.equal((await http.get(`/sagas/${started.body.id}`)).body.status, 'completed');
    const compensated = await http.get(`/sagas/${declined.body.id}`);
    assert.equal(compensated.body.status, 'compensated');
    assert.ok(compensated.body.steps.some((s: { compensation?: unknown }) => s.compensation));
    assert.equal((await http.get(`/sagas/${started.body.id}/events`)).status, 200);
    assert.equal((await http.get('/sagas?name=order&limit=1')).body.items.length, 1);
    assert.equal((await http.get('/sagas?limit=0')).status, 400);
    assert.equal((await http.get('/sagas/not-a-uuid')).status, 400);
    assert.equal((await http.get(`/sagas/${UNKNOWN_ID}/events`)).status, 404);
    assert.equal((await http.post(`/sagas/${started.body.id}/retry`)).status, 409);
    assert.equal((await http.post(`/sagas/${started.body.id}/cancel`)).status, 409);

    const trip = await http.post('/sagas/trip', { ...TRIP, tripId: `trip-${Date.now()}` });
    assert.equal(trip.status, 202);
    const approval = { approved: false, by: 'openapi test' };
    const signalKey = { 'idempotency-key': `approval-${Date.now()}` };
    const signalPath = `/sagas/${trip.body.id}/signals/approval`;
    assert.equal((await http.post(signalPath, approval, signalKey)).status, 202);
    assert.equal((await http.post(signalPath, approval, signalKey)).status, 200);
    assert.equal((await http.post(signalPath, { approved: 'yes' })).status, 400);
    const ended = await waitForSaga(t.http, trip.body.id);
    assert.equal(ended.status, 'compensated');
    assert.equal((await http.post(signalPath, approval)).status, 409);
    assert.equal((await http.get(`/sagas/${trip.body.id}`)).status, 200);
    for (const id of [declined.body.id, trip.body.id])
      assert.equal((await http.get(`/sagas/${id}/events`)).status, 200);
    assert.equal((await http.get('/health')).status, 200);
    assert.ok(http.checked >= 20, `only ${http.checked} JSON bodies checked`);
  });

  it('serves /docs with every script, style and icon from the app itself', async () => {
    const page = await t.http.get('/docs');
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
    assert.doesNotMatch(page.text, /(src|href)="(https?:)?\/\//, 'nothing is loaded from another host');
    const assets = [...page.text.matchAll(/(?:src|href)="([^"]+)"/g)].map(([, url]) => url);
    assert.ok(assets.length >= 3, `only ${assets.length} assets: ${assets.join(', ')}`);
    const types: Record<string, RegExp> = { js: /^text\/javascript/, css: /^text\/css/, png: /^image\/png/ };
    for (const url of assets) {
      const response = await fetch(new URL(url, t.http.baseUrl));
      const body = await response.text();
      assert.equal(response.status, 200, `${url}: ${body}`);
      assert.ok(body.length > 0, `${url} is empty`);
      assert.match(response.headers.get('content-type') ?? '', types[url.split('.').at(-1)!], url);
      assert.equal(response.headers.get('cache-control'), 'private, max-age=3600', url);
    }
    const scripts = await Promise.all(
      assets.filter((url) => url.endsWith('.js')).map(async (url) => (await t.http.get(url)).text),
    );
    assert.ok(
      scripts.some((script) => script.includes("url: '/openapi.json'")),
      'the page renders /openapi.json',
    );
    assert.equal((await t.http.get('/docs/assets/..%2Fpackage.json')).status, 404);
    const missing = await t.http.get('/docs/assets/index.html');
    assert.equal(missing.status, 404);
    assert.equal(missing.headers.get('cache-control'), null, 'an error is not cached');
  });
});

describe('OpenAPI document with an API key', () => {
  let t: TestApp;

  before(async () => {
    t = await startTestApp({ env: { API_KEY } });
  });

  after(async () => {
    await t?.close();
  });

  it('needs the key for the document and the page, like every route but /health and /metrics', async () => {
    for (const path of ['/openapi.json', '/docs', '/docs/assets/docs.js']) {
      const response = await t.http.get(path);
      assert.equal(response.status, 401, path);
      assert.equal(response.body.error, 'Unauthorized');
    }
    assert.equal((await t.http.get('/docs', { authorization: `Bearer ${API_KEY}` })).status, 200);
  });

  it('documents the bearer scheme on exactly the routes that need the key', async () => {
    const document = await fetchDocument(t, { authorization: `Bearer ${API_KEY}` });
    assert.deepEqual(document.components.securitySchemes, { bearer: { type: 'http', scheme: 'bearer' } });
    for (const [path, item] of Object.entries(document.paths)) {
      for (const [method, operation] of Object.entries(item)) {
        // The dashboard's page and scripts hold no data: the page asks for the key and sends it on
        // every call it makes (a browser cannot send a Bearer header when it loads a page).
        const open = path === '/health' || path === '/metrics' || path.startsWith('/dashboard');
        const response = await t.http.request(method.toUpperCase(), path.replace(/\{[^}]+\}/g, UNKNOWN_ID));
        assert.equal(response.status === 401, !open, `${method} ${path} answered ${response.status}`);
        assert.deepEqual(operation.security, open ? undefined : [{ bearer: [] }], `${method} ${path}`);
        assert.equal('401' in operation.responses, !open, `${method} ${path} documents its 401`);
      }
    }
    const validator = new Validator();
    assert.equal((await validator.validate(document)).valid, true);
  });
});
