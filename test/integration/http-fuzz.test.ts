import assert from 'node:assert/strict';
import { STATUS_CODES } from 'node:http';
import { isDeepStrictEqual } from 'node:util';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { OrderInput } from '../../sagas/order/order.input.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

// Thousands of generated requests, valid and hostile, against one running app (DESIGN.md invariant 6):
// no 5xx, every 4xx in the error shape, every accepted start an id, and `sagas` holds exactly the
// sagas that were answered 202. Each request's status is also checked against an oracle built from
// the contract (order schema, body limit, id and query rules) wherever the contract decides it.
// Reproduce a run with FUZZ_SEED=<seed> (printed on failure); FUZZ_RUNS changes the number of requests.
// On a loaded machine the run stops after TIME_LIMIT_MS, but only once MIN_REQUESTS were sent.

const RUNS = Number(process.env.FUZZ_RUNS ?? 2000);
const MIN_REQUESTS = Math.min(RUNS, 1000);
const TIME_LIMIT_MS = 45_000;
const SEED = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
const ONE_MIB = 1024 * 1024;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const VALID_KEY = /^[\x21-\x7e]{1,255}$/;
const SAGA_STATUSES = ['pending', 'running', 'compensating', 'completed', 'compensated', 'failed'];
// eslint-disable-next-line no-control-regex -- U+0000 is what it looks for
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** One generated request and what the contract says about its status (when it decides it). */
interface FuzzRequest {
  kind: string;
  method: string;
  /** Path and query, already encoded. */
  path: string;
  headers: Record<string, string>;
  body?: string;
  /** Statuses the contract allows for this request; undefined: only the general rules apply. */
  expect?: number[];
  /** A POST /sagas/{name}: a 2xx must be `{ id, name, status }` and counts as a start. */
  start?: boolean;
  /** The Idempotency-Key as the server receives it (fetch trims tabs and spaces). */
  key?: string;
  /** Resolved at run time to the id of a saga this run started. */
  knownId?: { index: number; action: 'get' | 'events' | 'cancel' | 'retry' };
  /** A GET /sagas that the oracle expects to succeed, and its filters, to check the page. */
  list?: Record<string, string>;
}

// ---------------------------------------------------------------------------------------------
// Oracle

/** The body parser takes any JSON text, and an empty body as `{}`. */
function parseLikeServer(text: string): { ok: true; value: unknown } | { ok: false } {
  if (text === '') return { ok: true, value: {} };
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false };
  }
}

/** Iterative, so 100k levels of nesting do not overflow the test's own stack. */
function storable(value: unknown): boolean {
  const stack = [value];
  while (stack.length > 0) {
    const next = stack.pop();
    if (typeof next === 'string') {
      if (UNSTORABLE.test(next)) return false;
    } else if (next !== null && typeof next === 'object') {
      for (const [key, child] of Object.entries(next)) {
        if (UNSTORABLE.test(key)) return false;
        stack.push(child);
      }
    }
  }
  return true;
}

/** The input Postgres stores for a valid order body: the schema's output, as JSON (where -0 is 0). */
function storedInput(body: string): unknown {
  const parsed = OrderInput.parse(JSON.parse(Buffer.from(body).toString('utf8')));
  return JSON.parse(JSON.stringify(parsed));
}

type BodyHandling = 'json' | 415 | 400;

/** What the contract says about POST /sagas/{segment} with this body, content handling and key. */
function startExpectation(
  segment: string,
  body: string | undefined,
  handling: BodyHandling,
  key: string | undefined,
): number[] {
  let input: unknown = undefined;
  if (handling === 415 || handling === 400) return [handling];
  if (body !== undefined) {
    const bytes = Buffer.byteLength(body);
    if (bytes > ONE_MIB) return [413];
    // What the server decodes: fetch sends the string as UTF-8 (unpaired surrogates become U+FFFD).
    const parsed = parseLikeServer(Buffer.from(body).toString('utf8'));
    if (!parsed.ok) return [400];
    input = parsed.value;
  }
  let name: string;
  try {
    name = decodeURIComponent(segment);
  } catch {
    return [400];
  }
  // fetch resolves dot segments: `/sagas/.` is `/sagas/`, served for GET only; `/sagas/..` is `/`.
  if (name === '' || name === '.') return [405];
  if (name === '..') return [404];
  if (key !== undefined && !VALID_KEY.test(key)) return [400];
  if (typeof input !== 'object' || input === null || Array.isArray(input)) return [400];
  if (name !== 'order') return [404];
  if (!storable(input)) return [400];
  if (!OrderInput.safeParse(input).success) return [400];
  return [200, 202];
}

/** What the contract says about GET /sagas with these (decoded) query entries. */
function listExpectation(entries: [string, string][]): number[] {
  const seen = new Set<string>();
  for (const [key, value] of entries) {
    if (seen.has(key)) return [400];
    seen.add(key);
    switch (key) {
      case 'name':
        if (value.length < 1 || value.length > 100 || UNSTORABLE.test(value)) return [400];
        break;
      case 'status':
        if (!SAGA_STATUSES.includes(value)) return [400];
        break;
      case 'limit':
        if (!/^\d{1,3}$/.test(value) || Number(value) < 1 || Number(value) > 100) return [400];
        break;
      case 'cursor':
        if (!UUID.test(value)) return [400];
        break;
      default:
        return [400];
    }
  }
  return [200];
}

// ---------------------------------------------------------------------------------------------
// Generators

const json = { 'content-type': 'application/json' };
const text = (options: { maxLength?: number; minLength?: number } = {}) =>
  fc.oneof(
    fc.string(options),
    fc.string({ ...options, unit: 'grapheme' }),
    fc.string({ ...options, unit: 'binary' }),
    fc.string({ ...options, unit: 'binary-ascii' }),
  );

const card = fc.oneof(
  fc.constantFrom(
    '4242424242424242',
    '4000000000000002',
    '4000000000000119',
    '123456789012',
    '1234567890123456789',
  ),
  fc.stringMatching(/^\d{12,19}$/),
);
const validOrder = fc.record({
  orderId: fc.oneof(
    fc.string({ minLength: 1, maxLength: 40 }),
    fc.string({ minLength: 1, maxLength: 20, unit: 'grapheme' }),
  ),
  customerId: fc.string({ minLength: 1, maxLength: 40 }),
  items: fc.array(
    fc.record({
      sku: fc.oneof(
        fc.integer({ min: 1, max: 100 }).map((n) => `sku-${n}`),
        fc.constant('no-such-sku'),
      ),
      quantity: fc.integer({ min: 1, max: 5 }),
    }),
    { minLength: 1, maxLength: 5 },
  ),
  amount: fc.oneof(fc.double({ min: 0.01, max: 1e6, noNaN: true }), fc.integer({ min: 1, max: 1e9 })),
  card,
});

/** Idempotency-Key values fetch can send: tab, printable ASCII and Latin-1 bytes. */
const headerChar = fc
  .oneof(
    { weight: 8, arbitrary: fc.integer({ min: 0x20, max: 0x7e }) },
    { weight: 1, arbitrary: fc.integer({ min: 0x80, max: 0xff }) },
    { weight: 1, arbitrary: fc.constant(0x09) },
  )
  .map((code) => String.fromCharCode(code));
const idempotencyKey = fc.oneof(
  // A small pool, so that keys repeat and must answer 200 with the first saga.
  {
    weight: 4,
    arbitrary: fc.constantFrom(
      'k1',
      'k2',
      'k3',
      '"quoted"',
      "';DROP/**/TABLE/**/sagas;--",
      '../../etc/passwd',
      '%00',
      '{}',
    ),
  },
  { weight: 3, arbitrary: fc.string({ unit: headerChar, maxLength: 40 }) },
  { weight: 1, arbitrary: fc.integer({ min: 250, max: 4000 }).map((n) => 'k'.repeat(n)) },
  {
    weight: 1,
    arbitrary: fc.constantFrom('has space', 'caf\u00e9', ' ', '', '\t', 'k'.repeat(255), 'k'.repeat(256)),
  },
);
const normalizeKey = (key: string) => key.replace(/^[\t ]+|[\t ]+$/g, '');

function startRequest(
  kind: string,
  segment: string,
  body: string | undefined,
  handling: BodyHandling,
  headers: Record<string, string>,
  key?: string,
): FuzzRequest {
  const all = { ...headers, ...(key !== undefined ? { 'idempotency-key': key } : {}) };
  const normalized = key === undefined ? undefined : normalizeKey(key);
  return {
    kind,
    method: 'POST',
    path: `/sagas/${segment}`,
    headers: all,
    body,
    expect: startExpectation(segment, body, handling, normalized),
    start: true,
    key: normalized,
  };
}

const validStart = fc
  .tuple(validOrder, fc.option(idempotencyKey, { nil: undefined, freq: 2 }))
  .map(([order, key]) => startRequest('valid order', 'order', JSON.stringify(order), 'json', json, key));

/** A value that replaces part of a valid order; `raw` is spliced into the JSON text as is. */
const hostileValue = fc.oneof(
  {
    weight: 6,
    arbitrary: fc
      .jsonValue({ maxDepth: 3, stringUnit: 'binary' })
      .map((v) => ({ raw: JSON.stringify(v) ?? 'null' })),
  },
  { weight: 2, arbitrary: text({ maxLength: 30 }).map((s) => ({ raw: JSON.stringify(s) })) },
  {
    weight: 2,
    arbitrary: fc
      .tuple(
        fc.string({ maxLength: 5 }),
        fc.constantFrom('\u0000', '\ud800', '\udfff', '\ud83d\ude00', '\ufffd', '\u202e'),
        fc.string({ maxLength: 5 }),
      )
      .map(([a, odd, b]) => ({ raw: JSON.stringify(a + odd + b) })),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.constantFrom(100, 1000, 10_000, 100_000), fc.constantFrom('array', 'object'))
      .map(([depth, shape]) => ({
        raw:
          shape === 'array'
            ? '['.repeat(depth) + ']'.repeat(depth)
            : '{"a":'.repeat(depth) + '1' + '}'.repeat(depth),
      })),
  },
  {
    weight: 1,
    arbitrary: fc
      .constantFrom(1e308, -0, 0, -1, 0.5, 2 ** 53, 1e-320)
      .map((n) => ({ raw: JSON.stringify(n) })),
  },
  {
    weight: 1,
    arbitrary: fc
      .constantFrom('"1"', 'true', 'false', 'null', '[]', '{}', '""', '"    "', '[{}]', '[{"sku":"sku-1"}]')
      .map((raw) => ({ raw })),
  },
);
const FIELDS = [
  'orderId',
  'customerId',
  'items',
  'items.0',
  'items.0.sku',
  'items.0.quantity',
  'amount',
  'card',
  'extra',
  '__proto__',
  'constructor',
];
const mutatedStart = fc
  .tuple(
    validOrder,
    fc.constantFrom(...FIELDS),
    fc.oneof(hostileValue, fc.constant('delete' as const)),
    fc.option(idempotencyKey, { nil: undefined, freq: 4 }),
  )
  .map(([order, field, value, key]) => {
    const copy: any = structuredClone(order);
    const path = field.split('.');
    const last = path.pop()!;
    const parent = path.reduce((o, k) => o[k], copy);
    const marker = `@@${Math.random().toString(36).slice(2)}@@`;
    if (value === 'delete') delete parent[last];
    else
      Object.defineProperty(parent, last, {
        value: marker,
        enumerable: true,
        writable: true,
        configurable: true,
      });
    const body =
      value === 'delete' ? JSON.stringify(copy) : JSON.stringify(copy).replace(`"${marker}"`, value.raw);
    return startRequest(`wrong ${field}`, 'order', body, 'json', json, key);
  });

const malformedJson = fc
  .tuple(
    validOrder,
    fc.nat(),
    fc.constantFrom('truncate', 'insert', 'delete', 'quotes', 'random', 'scalar'),
    text({ maxLength: 3, minLength: 1 }),
    text({ maxLength: 60 }),
  )
  .map(([order, at, how, insert, random]) => {
    const valid = JSON.stringify(order);
    const i = at % valid.length;
    const body = {
      truncate: valid.slice(0, i),
      insert: valid.slice(0, i) + insert + valid.slice(i),
      delete: valid.slice(0, i) + valid.slice(i + 1),
      quotes: valid.replace(/"/g, "'"),
      random,
      scalar: JSON.stringify(random),
    }[how];
    return startRequest(`malformed JSON (${how})`, 'order', body, 'json', json);
  });

const randomJsonBody = fc
  .jsonValue({ maxDepth: 4, stringUnit: 'grapheme' })
  .map((value) => startRequest('random JSON', 'order', JSON.stringify(value) ?? 'null', 'json', json));

const hugeString = fc
  .tuple(
    validOrder,
    fc.constantFrom('orderId', 'customerId', 'card', 'extra'),
    fc.constantFrom(101, 100_000, 1_048_000, ONE_MIB + 1, 3 * ONE_MIB),
  )
  .map(([order, field, size]) => {
    const body = JSON.stringify({ ...order, [field]: 'x'.repeat(size) });
    return startRequest(`huge ${field}`, 'order', body, 'json', json);
  });

const sagaName = fc.oneof(
  text({ minLength: 1, maxLength: 60 }),
  fc.constantFrom(
    'ORDER',
    'order ',
    ' order',
    'order\u0000',
    'orders',
    'ordér',
    '..%2F',
    'order/cancel',
    '💥',
    '\u202eredro',
    '__proto__',
    'constructor',
  ),
);
const unknownName = fc
  .tuple(sagaName, validOrder)
  .map(([name, order]) =>
    startRequest('saga name', encodeURIComponent(name), JSON.stringify(order), 'json', json),
  );

/** Path segments as a client may send them: raw, with odd or broken percent-encodings. */
const rawSegment = fc
  .array(
    fc.constantFrom(
      '%',
      '%2',
      '%E2%9C',
      '%E2%9C%93',
      '%2F',
      '%00',
      '%ZZ',
      '%C3%A9',
      '%ED%A0%80',
      '%FF',
      '%20',
      '%2e',
      'a',
      'Z',
      '0',
      '~',
      '!',
      '*',
      "'",
      '(',
      ')',
      '-',
      '_',
      '.',
      ';',
      ',',
      '=',
      '@',
      '+',
      '$',
      'order',
      '%6F',
    ),
    { minLength: 1, maxLength: 8 },
  )
  .map((parts) => parts.join(''));
const rawName = fc
  .tuple(rawSegment, validOrder)
  .map(([segment, order]) => startRequest('raw saga name', segment, JSON.stringify(order), 'json', json));

const CONTENT_TYPES: [string | undefined, BodyHandling][] = [
  ['application/json', 'json'],
  ['application/json; charset=utf-8', 'json'],
  ['application/json;charset=UTF-8', 'json'],
  ['APPLICATION/JSON', 'json'],
  ['Application/Json; charset="utf-8"', 'json'],
  ['application/json; charset=latin1', 415],
  ['application/json; charset=iso-8859-1', 415],
  ['application/json; charset=utf-16', 400],
  ['text/plain', 415],
  ['text/json', 415],
  ['application/x-www-form-urlencoded', 415],
  ['multipart/form-data; boundary=x', 415],
  ['application/vnd.api+json', 415],
  ['', 415],
  [undefined, 415],
];
const oddHeaders = fc
  .tuple(
    validOrder,
    fc.constantFrom(...CONTENT_TYPES),
    fc.option(idempotencyKey, { nil: undefined, freq: 2 }),
  )
  .map(([order, [type, handling], key]) =>
    startRequest(
      `content-type ${JSON.stringify(type)}`,
      'order',
      JSON.stringify(order),
      handling,
      type === undefined ? {} : { 'content-type': type },
      key,
    ),
  );
const randomContentType = fc
  .tuple(validOrder, fc.string({ unit: headerChar, maxLength: 60 }))
  .map(([order, type]) => ({
    kind: 'random content-type',
    method: 'POST',
    path: '/sagas/order',
    headers: { 'content-type': type },
    body: JSON.stringify(order),
    start: true,
  }));
const CONTENT_ENCODINGS: [string, number[]][] = [
  ['gzip', [400]],
  ['deflate', [400]],
  ['br', [400, 415]],
  ['identity', [202]],
  ['x-unknown', [415]],
];
const oddEncoding = fc
  .tuple(validOrder, fc.constantFrom(...CONTENT_ENCODINGS))
  .map(([order, [encoding, expect]]) => ({
    kind: `content-encoding ${encoding}`,
    method: 'POST',
    path: '/sagas/order',
    headers: { ...json, 'content-encoding': encoding },
    body: JSON.stringify(order),
    expect,
    start: true,
  }));

const idLike = fc.oneof(
  text({ minLength: 1, maxLength: 50 }),
  fc.uuid({ version: [1, 4, 7] }),
  fc.uuid().map((u) => u.toUpperCase()),
  fc.uuid().map((u) => u.replace(/-/g, '')),
  fc.uuid().map((u) => `{${u}}`),
  fc.uuid().map((u) => `${u}0`),
  fc.uuid().map((u) => u.slice(1)),
  fc.constantFrom('null', 'undefined', '0', '-1', "1' OR '1'='1", 'events', 'cancel'),
);
const ID_ACTIONS = [
  ['GET', ''],
  ['GET', '/events'],
  ['POST', '/cancel'],
  ['POST', '/retry'],
] as const;
const badId = fc
  .tuple(idLike, fc.constantFrom(...ID_ACTIONS))
  .filter(([id]) => !/^\.*$/.test(id))
  .map(([id, [method, suffix]]): FuzzRequest => ({
    kind: `id ${method} ${suffix || '/'}`,
    method,
    path: `/sagas/${encodeURIComponent(id)}${suffix}`,
    headers: {},
    expect: UUID.test(id) ? [404] : [400],
  }));
const rawId = fc
  .tuple(rawSegment, fc.constantFrom(...ID_ACTIONS))
  .map(([segment, [method, suffix]]): FuzzRequest => ({
    kind: `raw id ${method} ${suffix || '/'}`,
    method,
    path: `/sagas/${segment}${suffix}`,
    headers: {},
    // GET /sagas/. is the list; POST /sagas/{segment} without a suffix would be a start, not generated here.
    expect: suffix === '' && /^(\.|%2e)$/i.test(segment) ? [200] : [400, 404],
  }));
const knownId = fc
  .tuple(
    fc.nat(),
    fc.constantFrom('get', 'events', 'cancel', 'retry') as fc.Arbitrary<
      'get' | 'events' | 'cancel' | 'retry'
    >,
  )
  .map(([index, action]): FuzzRequest => ({
    kind: `known id ${action}`,
    method: '',
    path: '',
    headers: {},
    knownId: { index, action },
  }));

const queryValue = fc.oneof(
  fc.constantFrom(
    ...SAGA_STATUSES,
    'order',
    'no-such-saga',
    '0',
    '1',
    '20',
    '100',
    '101',
    '007',
    '-1',
    '1.5',
    '1e2',
    ' 5',
    '',
    'null',
    '\u0000',
    'a\u0000b',
  ),
  fc.integer({ min: -5, max: 200 }).map(String),
  fc.uuid(),
  fc.uuid().map((u) => u.toUpperCase()),
  text({ maxLength: 120 }),
);
const queryKey = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('name', 'status', 'limit', 'cursor') },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      'Name',
      'LIMIT',
      'name[]',
      'name[a]',
      '__proto__',
      'constructor',
      'sort',
      'offset',
      '',
      'cursor ',
    ),
  },
  { weight: 1, arbitrary: text({ minLength: 1, maxLength: 10 }) },
);
const listQuery = fc.array(fc.tuple(queryKey, queryValue), { maxLength: 4 }).map((entries): FuzzRequest => {
  const query = entries.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&');
  const expect = listExpectation(entries);
  return {
    kind: 'list query',
    method: 'GET',
    path: `/sagas${query ? `?${query}` : ''}`,
    headers: {},
    expect,
    list: expect[0] === 200 ? Object.fromEntries(entries) : undefined,
  };
});
const rawQuery = fc
  .array(
    fc.constantFrom(
      'name',
      'status',
      'limit',
      'cursor',
      '=',
      '&',
      '%',
      '%00',
      '%ZZ',
      '+',
      '[',
      ']',
      '[]',
      '1',
      'a',
      'completed',
      ';',
      '?',
      '%26',
    ),
    { maxLength: 12 },
  )
  .map((parts): FuzzRequest => ({
    kind: 'raw query',
    method: 'GET',
    path: `/sagas?${parts.join('')}`,
    headers: {},
    expect: [200, 400],
  }));

const otherRoutes = fc
  .tuple(
    fc.constantFrom('PUT', 'PATCH', 'DELETE', 'OPTIONS', 'GET', 'POST'),
    fc.constantFrom(
      '/sagas/order',
      '/sagas',
      '/',
      '/health/x',
      '/metrics/x',
      '/sagas/order/x/y',
      '/SAGAS/order',
      '/admin',
    ),
  )
  .filter(
    ([method, path]) =>
      !(method === 'POST' && path === '/sagas/order') && !(method === 'GET' && path === '/sagas'),
  )
  .map(([method, path]): FuzzRequest => ({
    kind: `route ${method} ${path}`,
    method,
    path,
    headers: method === 'POST' || method === 'PUT' || method === 'PATCH' ? json : {},
    body: method === 'POST' || method === 'PUT' || method === 'PATCH' ? '{}' : undefined,
    expect: otherRouteExpectation(method, path),
  }));

/**
 * GET /sagas/order is GET /sagas/{id} with a malformed id; another method on a path that routes serve
 * is a 405; /SAGAS may or may not route like /sagas.
 */
function otherRouteExpectation(method: string, path: string): number[] {
  const served: Record<string, string[]> = { '/sagas/order': ['GET', 'POST'], '/sagas': ['GET'] };
  if (path === '/SAGAS/order') return served['/sagas/order'].includes(method) ? [400, 404] : [404, 405];
  if (!served[path]) return [404];
  if (!served[path].includes(method)) return [405];
  return [400];
}

const request: fc.Arbitrary<FuzzRequest> = fc.oneof(
  { weight: 8, arbitrary: validStart },
  { weight: 18, arbitrary: mutatedStart },
  { weight: 10, arbitrary: malformedJson },
  { weight: 5, arbitrary: randomJsonBody },
  { weight: 1, arbitrary: hugeString },
  { weight: 6, arbitrary: unknownName },
  { weight: 4, arbitrary: rawName },
  { weight: 6, arbitrary: oddHeaders },
  { weight: 2, arbitrary: randomContentType },
  { weight: 1, arbitrary: oddEncoding },
  { weight: 10, arbitrary: badId },
  { weight: 3, arbitrary: rawId },
  { weight: 5, arbitrary: knownId },
  { weight: 12, arbitrary: listQuery },
  { weight: 3, arbitrary: rawQuery },
  { weight: 2, arbitrary: otherRoutes },
);

/** Run first, whatever the seed, so that every run covers these. */
const ORDER = {
  orderId: 'o-1',
  customerId: 'c-1',
  items: [{ sku: 'sku-1', quantity: 1 }],
  amount: 1,
  card: '4242424242424242',
};
const DEEP = '['.repeat(10_000) + ']'.repeat(10_000);
const EXAMPLES: FuzzRequest[] = [
  startRequest(
    'example: over 1 MiB',
    'order',
    JSON.stringify({ ...ORDER, extra: 'x'.repeat(ONE_MIB) }),
    'json',
    json,
  ),
  startRequest(
    'example: 10k levels in items',
    'order',
    JSON.stringify(ORDER).replace(/"items":\[.*?\]/, `"items":${DEEP}`),
    'json',
    json,
  ),
  startRequest(
    'example: 10k levels in an unknown field',
    'order',
    JSON.stringify({ ...ORDER, extra: 0 }).replace('"extra":0', `"extra":${DEEP}`),
    'json',
    json,
  ),
  startRequest('example: NUL', 'order', JSON.stringify({ ...ORDER, orderId: 'a\u0000' }), 'json', json),
  startRequest(
    'example: encoded name',
    encodeURIComponent('ördér/✓ ?#'),
    JSON.stringify(ORDER),
    'json',
    json,
  ),
  startRequest('example: key', 'order', JSON.stringify(ORDER), 'json', json, 'k1'),
  startRequest('example: key again', 'order', JSON.stringify(ORDER), 'json', json, 'k1'),
];

// ---------------------------------------------------------------------------------------------

describe('HTTP fuzz', () => {
  let t: TestApp;

  before(async () => {
    t = await startTestApp();
  });
  after(() => t?.close());

  it(`answers ${RUNS} generated requests within the contract, and stores exactly the sagas it accepted`, async () => {
    const accepted: string[] = [];
    /** Each Idempotency-Key answered 202, with its saga and the input it was started with. */
    const byKey = new Map<string, { id: string; input: unknown }>();
    const problems: string[] = [];
    const kinds = new Map<string, number>();
    const statuses = new Map<number, number>();
    let sent = 0;

    async function send(req: FuzzRequest): Promise<void> {
      if (req.knownId) {
        if (accepted.length === 0) return;
        const id = accepted[req.knownId.index % accepted.length];
        const action = req.knownId.action;
        req.method = action === 'get' || action === 'events' ? 'GET' : 'POST';
        req.path = `/sagas/${id}${action === 'get' ? '' : `/${action}`}`;
        req.expect = action === 'cancel' || action === 'retry' ? [202, 409] : [200];
      }
      // A valid start under a key already used: 200 for the same input, 409 for another.
      const key = req.start && req.key !== undefined && VALID_KEY.test(req.key) ? req.key : undefined;
      const input = key !== undefined && req.expect?.includes(202) ? storedInput(req.body!) : undefined;
      if (input !== undefined) {
        const earlier = byKey.get(key!);
        req.expect = !earlier ? [202] : isDeepStrictEqual(earlier.input, input) ? [200] : [409];
      }
      const kind = req.kind.replace(/ ".*"$/, '').replace(/ \(.*\)$/, '');
      kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
      sent++;
      const response = await fetch(`${t.http.baseUrl}${req.path}`, {
        method: req.method,
        headers: req.headers,
        body: req.body,
      });
      const text = await response.text();
      const status = response.status;
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
      const problem = (what: string) =>
        problems.push(
          `${what}\n    request: ${req.kind}: ${req.method} ${req.path.slice(0, 200)} ${JSON.stringify(req.headers).slice(0, 200)} ` +
            `body(${req.body?.length ?? 0}): ${(req.body ?? '').slice(0, 200)}\n    response: ${status} ${text.slice(0, 300)}`,
        );

      let body: any;
      try {
        body = text ? JSON.parse(text) : undefined;
      } catch {
        body = undefined;
      }
      if (status >= 500) problem(`a ${status}`);
      if (status === 405 && !response.headers.get('allow')) problem('a 405 without an Allow header');
      if (/\n\s+at | {4}at /.test(text)) problem('a stack trace in the body');
      if (req.expect && !req.expect.includes(status)) problem(`expected ${req.expect.join(' or ')}`);

      if (status >= 400) {
        const keys = body && typeof body === 'object' ? Object.keys(body).sort().join() : '';
        const shaped =
          (keys === 'error,message,statusCode' || keys === 'error,issues,message,statusCode') &&
          body.statusCode === status &&
          body.error === STATUS_CODES[status] &&
          typeof body.message === 'string' &&
          body.message.length > 0 &&
          (body.issues === undefined ||
            (Array.isArray(body.issues) &&
              body.issues.length > 0 &&
              body.issues.every(
                (i: any) =>
                  i &&
                  Object.keys(i).sort().join() === 'message,path' &&
                  typeof i.path === 'string' &&
                  typeof i.message === 'string',
              )));
        if (!shaped) problem('not the error shape');
        return;
      }

      if (req.start && (status === 200 || status === 202)) {
        const ok =
          body &&
          Object.keys(body).sort().join() === 'id,name,status' &&
          typeof body.id === 'string' &&
          UUID.test(body.id) &&
          body.name === 'order' &&
          SAGA_STATUSES.includes(body.status);
        if (!ok) return void problem('a start without { id, name, status }');
        if (status === 202) {
          if (key !== undefined && byKey.has(key))
            problem(`202 for key ${key} already used by ${byKey.get(key)!.id}`);
          if (accepted.includes(body.id)) problem('202 with an id already accepted');
          accepted.push(body.id);
          if (key !== undefined) byKey.set(key, { id: body.id, input });
        } else {
          if (key === undefined) problem('200 without an Idempotency-Key');
          else if (byKey.get(key)?.id !== body.id)
            problem(`200 for key ${key} with ${body.id}, not ${byKey.get(key)?.id}`);
        }
        return;
      }

      if (req.list && status === 200) {
        const { name, status: wanted, limit, cursor } = req.list;
        const items = body?.items;
        const ok =
          Array.isArray(items) &&
          Object.keys(body).sort().join() === 'items,nextCursor' &&
          (body.nextCursor === null || UUID.test(body.nextCursor)) &&
          items.length <= Number(limit ?? 20) &&
          items.every(
            (s: any, i: number) =>
              UUID.test(s.id) &&
              !('steps' in s) &&
              (name === undefined || s.name === name) &&
              (wanted === undefined || s.status === wanted) &&
              (cursor === undefined || s.id < cursor.toLowerCase()) &&
              (i === 0 || items[i - 1].id > s.id),
          );
        if (!ok) problem('a list page that does not match its filters');
      }
    }

    const started = Date.now();
    await fc.assert(
      fc.asyncProperty(request, async (req) => {
        if (sent >= MIN_REQUESTS && Date.now() - started > TIME_LIMIT_MS) return;
        try {
          await send(req);
        } catch (error) {
          problems.push(
            `request failed: ${req.kind} ${req.method} ${req.path.slice(0, 200)}: ${(error as Error).message}`,
          );
        }
      }),
      { numRuns: RUNS, seed: SEED, endOnFailure: true, examples: EXAMPLES.map((example) => [example]) },
    );
    const elapsed = Date.now() - started;

    const summary =
      `seed ${SEED}, ${sent} requests in ${elapsed} ms; statuses ${JSON.stringify(Object.fromEntries([...statuses].sort()))}; ` +
      `${accepted.length} sagas started; kinds ${JSON.stringify(Object.fromEntries(kinds))}`;
    assert.deepEqual(problems.slice(0, 15), [], `${problems.length} problems (${summary})`);

    // Every kind of request ran, and the run was not all rejections.
    assert.ok(statuses.get(202)! >= 20, `too few accepted starts: ${summary}`);
    assert.ok(
      statuses.get(400)! >= 200 && statuses.get(404)! >= 50 && (statuses.get(413) ?? 0) >= 1,
      summary,
    );

    // The store holds exactly the sagas answered 202: nothing from the rejected requests.
    const rows = await t.sql<{ id: string }[]>`SELECT id FROM sagas`;
    assert.deepEqual(
      rows.map((r) => r.id).sort(),
      [...accepted].sort(),
      `sagas in Postgres differ from the ${accepted.length} accepted (${summary})`,
    );
    const [{ orphans }] = await t.sql<{ orphans: number }[]>`
      SELECT (SELECT count(*) FROM saga_units WHERE saga_id NOT IN (SELECT id FROM sagas))::int +
             (SELECT count(*) FROM saga_events WHERE saga_id NOT IN (SELECT id FROM sagas))::int AS orphans`;
    assert.equal(orphans, 0);
    console.log(`# http fuzz: ${summary}`);
  });
});
