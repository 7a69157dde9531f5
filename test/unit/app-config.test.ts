import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config/app-config.js';

const DEFAULTS = {
  DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/sagas',
  REDIS_URL: 'redis://127.0.0.1:6379',
  PORT: 3000,
  SAGA_ROLE: 'all',
  QUEUE_PREFIX: 'saga',
  WORKER_CONCURRENCY: 50,
  LOG_LEVEL: 'log',
};

/** The contract variables of a config (others may be added without breaking these tests). */
function contract(config: object): Record<string, unknown> {
  return Object.fromEntries(
    Object.keys(DEFAULTS).map((key) => [key, (config as Record<string, unknown>)[key]]),
  );
}

/** Asserts that loading `env` fails with a ConfigError that names `variable`. */
function assertRejected(env: NodeJS.ProcessEnv, variable: string): ConfigError {
  let caught: unknown;
  try {
    loadConfig(env);
  } catch (error) {
    caught = error;
  }
  assert.ok(
    caught instanceof ConfigError,
    `expected a ConfigError for ${JSON.stringify(env)}, got ${String(caught)}`,
  );
  assert.equal(caught.name, 'ConfigError');
  assert.match(caught.message, new RegExp(`\\b${variable}\\b`));
  return caught;
}

describe('loadConfig', () => {
  it('defaults for an empty environment (API_KEY unset)', () => {
    const config = loadConfig({});
    assert.deepEqual(contract(config), DEFAULTS);
    assert.equal(config.API_KEY, undefined);
  });

  it('empty strings are treated as unset', () => {
    const config = loadConfig({
      DATABASE_URL: '',
      REDIS_URL: '',
      PORT: '',
      SAGA_ROLE: '',
      API_KEY: '',
      QUEUE_PREFIX: '',
      WORKER_CONCURRENCY: '',
      LOG_LEVEL: '',
      LOCK_DURATION_MS: '',
      SHUTDOWN_GRACE_MS: '',
    });
    assert.deepEqual(config, loadConfig({}));
    assert.equal('API_KEY' in config && config.API_KEY !== undefined, false);
  });

  it('undefined values are treated as unset', () => {
    assert.deepEqual(loadConfig({ PORT: undefined, API_KEY: undefined }), loadConfig({}));
  });

  it('ignores unrelated variables', () => {
    const config = loadConfig({ PATH: '/usr/bin', HOME: '/root', NODE_ENV: 'production' });
    assert.deepEqual(config, loadConfig({}));
    assert.equal('PATH' in config, false);
  });

  it('reads every variable', () => {
    const config = loadConfig({
      DATABASE_URL: 'postgresql://user:pw@db.internal:6543/orders?sslmode=require',
      REDIS_URL: 'rediss://:secret@cache:6380/2',
      PORT: '8080',
      SAGA_ROLE: 'worker',
      API_KEY: 'k'.repeat(16),
      QUEUE_PREFIX: 'test_run-1.a',
      WORKER_CONCURRENCY: '200',
      LOG_LEVEL: 'debug',
    });
    assert.deepEqual(
      { ...contract(config), API_KEY: config.API_KEY },
      {
        DATABASE_URL: 'postgresql://user:pw@db.internal:6543/orders?sslmode=require',
        REDIS_URL: 'rediss://:secret@cache:6380/2',
        PORT: 8080,
        SAGA_ROLE: 'worker',
        API_KEY: 'k'.repeat(16),
        QUEUE_PREFIX: 'test_run-1.a',
        WORKER_CONCURRENCY: 200,
        LOG_LEVEL: 'debug',
      },
    );
  });

  it('accepts every role and log level', () => {
    for (const role of ['all', 'api', 'worker'])
      assert.equal(loadConfig({ SAGA_ROLE: role }).SAGA_ROLE, role);
    for (const level of ['error', 'warn', 'log', 'debug', 'verbose']) {
      assert.equal(loadConfig({ LOG_LEVEL: level }).LOG_LEVEL, level);
    }
  });

  it('accepts the port bounds', () => {
    assert.equal(loadConfig({ PORT: '0' }).PORT, 0);
    assert.equal(loadConfig({ PORT: '65535' }).PORT, 65535);
  });

  it('does not read process.env when given an environment', () => {
    const previous = process.env.PORT;
    process.env.PORT = 'not-a-port';
    try {
      assert.equal(loadConfig({}).PORT, 3000);
    } finally {
      if (previous === undefined) delete process.env.PORT;
      else process.env.PORT = previous;
    }
  });

  const bad: [string, string][] = [
    ['DATABASE_URL', 'mysql://localhost/sagas'],
    ['DATABASE_URL', 'postgres://localhost'],
    ['DATABASE_URL', 'postgres://localhost/'],
    ['DATABASE_URL', 'localhost:5432/sagas'],
    ['REDIS_URL', 'http://localhost:6379'],
    ['REDIS_URL', 'localhost:6379'],
    ['REDIS_URL', 'redis://'],
    ['REDIS_URL', 'redis://local host'],
    ['PORT', 'abc'],
    ['PORT', '-1'],
    ['PORT', '65536'],
    ['PORT', '80.5'],
    ['SAGA_ROLE', 'both'],
    ['SAGA_ROLE', 'API'],
    ['API_KEY', 'has space'],
    ['API_KEY', 'clé'],
    ['QUEUE_PREFIX', 'has space'],
    ['QUEUE_PREFIX', 'x'.repeat(65)],
    ['QUEUE_PREFIX', '{}'],
    ['QUEUE_PREFIX', 'saga{'],
    ['QUEUE_PREFIX', '{a}{b}'],
    ['REDIS_URL', 'redis://a:1,'],
    ['REDIS_URL', 'redis://a:1,b:2'],
    ['REDIS_URL', 'redis-cluster://'],
    ['REDIS_URL', 'redis-cluster://a:1/0'],
    ['DATABASE_POOLING', 'statement'],
    ['WORKER_CONCURRENCY', '0'],
    ['WORKER_CONCURRENCY', '1001'],
    ['WORKER_CONCURRENCY', 'many'],
    ['WORKER_CONCURRENCY', '2.5'],
    ['LOG_LEVEL', 'trace'],
    ['LOCK_DURATION_MS', 'abc'],
    ['SHUTDOWN_GRACE_MS', '-1'],
  ];
  for (const [variable, value] of bad) {
    it(`rejects ${variable}=${JSON.stringify(value.length > 20 ? `${value.slice(0, 10)}…` : value)}`, () => {
      assertRejected({ [variable]: value }, variable);
    });
  }

  it('reports every bad variable at once', () => {
    const error = assertRejected({ PORT: 'x', SAGA_ROLE: 'y', LOG_LEVEL: 'z' }, 'PORT');
    assert.match(error.message, /SAGA_ROLE/);
    assert.match(error.message, /LOG_LEVEL/);
  });

  it('never echoes a rejected API_KEY', () => {
    const error = assertRejected({ API_KEY: 'secret with spaces' }, 'API_KEY');
    assert.ok(!error.message.includes('secret with spaces'));
  });

  it('accepts any API key that fits in a header, and prefixes with ":"', () => {
    assert.equal(loadConfig({ API_KEY: 'k' }).API_KEY, 'k');
    assert.equal(loadConfig({ QUEUE_PREFIX: 'team:saga' }).QUEUE_PREFIX, 'team:saga');
  });

  it('a Redis Cluster as seed URLs or redis-cluster://, and a hash-tagged prefix', () => {
    for (const url of [
      'redis://a:7000,redis://b:7001',
      'rediss://u:p@a:7000,rediss://u:p@b:7000',
      'redis-cluster://a:7000,b:7001',
    ])
      assert.equal(loadConfig({ REDIS_URL: url }).REDIS_URL, url);
    for (const prefix of ['{saga}', 'team:{saga}', '{team}:saga'])
      assert.equal(loadConfig({ QUEUE_PREFIX: prefix }).QUEUE_PREFIX, prefix);
  });

  it('DATABASE_POOLING is session by default, or transaction (PgBouncer)', () => {
    assert.equal(loadConfig({}).DATABASE_POOLING, 'session');
    assert.equal(loadConfig({ DATABASE_POOLING: 'transaction' }).DATABASE_POOLING, 'transaction');
  });

  it('one line per bad variable, even when a value breaks several rules', () => {
    const error = assertRejected({ PORT: '-1.5', SAGA_ROLE: 'both' }, 'PORT');
    assert.deepEqual(error.issues, [
      'PORT: must be a whole number from 0 to 65535',
      'SAGA_ROLE: must be one of all, api, worker',
    ]);
  });

  it('a whitespace-only PORT is rejected, not read as port 0', () => {
    assertRejected({ PORT: ' ' }, 'PORT');
  });
});

describe('loadConfig: LOG_FORMAT and OTEL_*', () => {
  it('LOG_FORMAT is pretty on a terminal and json otherwise, unless set', () => {
    const { isTTY } = process.stdout;
    try {
      process.stdout.isTTY = true;
      assert.equal(loadConfig({}).LOG_FORMAT, 'pretty');
      process.stdout.isTTY = false;
      assert.equal(loadConfig({}).LOG_FORMAT, 'json');
      assert.equal(loadConfig({ LOG_FORMAT: 'pretty' }).LOG_FORMAT, 'pretty');
      process.stdout.isTTY = true;
      assert.equal(loadConfig({ LOG_FORMAT: 'json' }).LOG_FORMAT, 'json');
    } finally {
      process.stdout.isTTY = isTTY;
    }
  });

  it('tracing is off by default; the service is named nest-saga', () => {
    const config = loadConfig({});
    assert.equal(config.OTEL_EXPORTER_OTLP_ENDPOINT, undefined);
    assert.equal(config.OTEL_SERVICE_NAME, 'nest-saga');
  });

  it('reads the OTLP endpoint and the service name', () => {
    const config = loadConfig({
      OTEL_EXPORTER_OTLP_ENDPOINT: 'https://collector.internal:4318',
      OTEL_SERVICE_NAME: 'checkout',
    });
    assert.equal(config.OTEL_EXPORTER_OTLP_ENDPOINT, 'https://collector.internal:4318');
    assert.equal(config.OTEL_SERVICE_NAME, 'checkout');
  });

  const bad: [string, string][] = [
    ['LOG_FORMAT', 'xml'],
    ['LOG_FORMAT', 'JSON'],
    ['OTEL_EXPORTER_OTLP_ENDPOINT', 'collector:4318'],
    ['OTEL_EXPORTER_OTLP_ENDPOINT', 'grpc://collector:4317'],
    ['OTEL_SERVICE_NAME', 'x'.repeat(256)],
  ];
  for (const [variable, value] of bad) {
    it(`rejects ${variable}=${JSON.stringify(value.length > 20 ? `${value.slice(0, 10)}…` : value)}`, () => {
      assertRejected({ [variable]: value }, variable);
    });
  }
});
