import type { RetryOptions } from './definition/retry-policy.js';
import type { HandlerDefaults } from './definition/build-saga-definition.js';
import { DEFAULT_RETRY_POLICY, resolveRetryPolicy } from './definition/retry-policy.js';
import { keyPrefixFor, parseRedisUrl } from './redis/redis-target.js';
import { resolveSagaSchemaName } from './store/saga-schema-name.js';
import { SagaOptionsError } from './errors/saga-options.error.js';

const THIRTY_DAYS_MS = 30 * 24 * 60 * 60 * 1000;

/** Which parts of the engine run in this process. */
export type SagaRole = 'all' | 'api' | 'worker';

/** `session`: each connection is a Postgres session of its own; `transaction`: a transaction pooler's. */
export type DatabasePooling = 'session' | 'transaction';

export interface SagaModuleOptions {
  /** Postgres connection string; the database must exist (and be migrated, unless `migrate` is set). */
  databaseUrl: string;
  /**
   * Postgres schema of the engine's tables, beside the application's own: 1-63 lower-case
   * letters, digits or `_`, not `public`. @defaultValue 'saga'
   */
  schema?: string;
  /**
   * Apply the engine's migrations to `schema` at start, before the engine touches it, in one
   * transaction under an advisory lock (so processes may start together, through PgBouncer too).
   * Leave it off to migrate in a deployment step
   * instead, with `migrateSagaSchema()`. @defaultValue false
   */
  migrate?: boolean;
  /**
   * How the connections of `databaseUrl` reach Postgres. `transaction`: through a pooler in
   * transaction mode (PgBouncer `pool_mode = transaction`), which gives each transaction any server
   * connection: the engine then prepares no named statements and sets nothing on its connections
   * (claims then commit durably, one WAL flush each). @defaultValue 'session'
   */
  pooling?: DatabasePooling;
  /**
   * Redis connection string: `redis://host:port` (or `rediss://`), or a Redis Cluster's seed nodes,
   * `redis://host:port,redis://host:port` or `redis-cluster://host:port,host:port`.
   */
  redisUrl: string;
  /**
   * Prefix of every Redis key and channel, so several deployments or test runs can share one Redis.
   * On a cluster it is wrapped in a hash tag (`{saga}`) unless it has one. @defaultValue 'saga'
   */
  queuePrefix?: string;
  /**
   * `api` serves the saga routes and runs no steps; `worker` runs steps and the reconciler and
   * serves only `/health` and `/metrics`; `all` does both. @defaultValue 'all'
   */
  role?: SagaRole;
  /** Step and compensation attempts run at once by this process. @defaultValue 50 */
  concurrency?: number;
  /** Size of the engine's Postgres connection pool; statements are short, so a few serve many attempts. @defaultValue 10 */
  databasePoolSize?: number;
  /** Defaults for every step and compensation that does not set its own. */
  defaults?: {
    /** @defaultValue 3 attempts, exponential backoff from 200 ms, capped at 60 s, no jitter */
    retry?: RetryOptions;
    /** @defaultValue 30_000 */
    timeoutMs?: number;
  };
  /** How often the reconciler looks for due work missing from Redis, in ms. @defaultValue 1000 */
  reconcileIntervalMs?: number;
  /**
   * How long a worker holds the lock of a running attempt before another worker may take it over.
   * Locks are renewed every half of this while the attempt runs, so it bounds how long a killed
   * worker's attempt waits to be redelivered, not how long an attempt may run. @defaultValue 5000
   */
  lockDurationMs?: number;
  /** On shutdown, how long in-flight attempts may run before they are aborted and released. @defaultValue 10_000 */
  shutdownGraceMs?: number;
  /**
   * How long a finished saga (`completed` or `compensated`) is kept, with its units, events and
   * signals, in ms after it finished; `false` keeps them forever. Workers delete older ones in small
   * batches. A `failed` saga (a dead letter) and a saga still going are never deleted, nor a child
   * saga while its parent is kept. At least 1000. @defaultValue 30 days
   */
  retentionMs?: number | false;
  /** When set, every saga route needs `Authorization: Bearer <apiKey>`. @defaultValue unset */
  apiKey?: string;
  /**
   * When set, spans are exported over OTLP/HTTP: one trace per saga, a span per step and
   * compensation attempt. Unset, no OpenTelemetry code is loaded. @defaultValue unset
   */
  tracing?: SagaTracingOptions;
}

export interface SagaTracingOptions {
  /** OTLP/HTTP base URL (`OTEL_EXPORTER_OTLP_ENDPOINT`), e.g. `http://collector:4318`; spans go to `/v1/traces`. */
  otlpEndpoint: string;
  /** The `service.name` of the spans. @defaultValue 'nest-saga' */
  serviceName?: string;
}

export const SAGA_MODULE_OPTIONS = Symbol('SAGA_MODULE_OPTIONS');

export type ResolvedSagaModuleOptions = Required<
  Omit<SagaModuleOptions, 'apiKey' | 'defaults' | 'tracing'>
> & {
  apiKey?: string;
  defaults: HandlerDefaults;
  tracing?: Required<SagaTracingOptions>;
};

export function resolveSagaModuleOptions(options: SagaModuleOptions): ResolvedSagaModuleOptions {
  return {
    databaseUrl: options.databaseUrl,
    schema: resolveSagaSchemaName(options.schema),
    migrate: options.migrate ?? false,
    pooling: options.pooling ?? 'session',
    redisUrl: options.redisUrl,
    queuePrefix: keyPrefixFor(parseRedisUrl(options.redisUrl), options.queuePrefix ?? 'saga'),
    role: options.role ?? 'all',
    concurrency: options.concurrency ?? 50,
    databasePoolSize: options.databasePoolSize ?? 10,
    reconcileIntervalMs: options.reconcileIntervalMs ?? 1000,
    lockDurationMs: options.lockDurationMs ?? 5000,
    shutdownGraceMs: options.shutdownGraceMs ?? 10_000,
    retentionMs: resolveRetention(options.retentionMs),
    apiKey: options.apiKey || undefined,
    tracing: options.tracing && {
      otlpEndpoint: options.tracing.otlpEndpoint,
      serviceName: options.tracing.serviceName ?? 'nest-saga',
    },
    defaults: {
      retry: resolveRetryPolicy(options.defaults?.retry, DEFAULT_RETRY_POLICY),
      timeoutMs: options.defaults?.timeoutMs ?? 30_000,
    },
  };
}

function resolveRetention(retentionMs: number | false = THIRTY_DAYS_MS): number | false {
  if (retentionMs !== false && !(Number.isSafeInteger(retentionMs) && retentionMs >= 1000))
    throw new SagaOptionsError(
      'retentionMs',
      `${String(retentionMs)} must be false or a whole number of ms, at least 1000`,
    );
  return retentionMs;
}
