import { z } from 'zod';

/** A whole number in a range; unlike z.coerce, rejects blanks and fractions instead of reading them as numbers. */
const wholeNumber = (min: number, max: number, fallback: number) => {
  const message = `must be a whole number from ${min} to ${max}`;
  return z
    .string()
    .regex(/^\d+$/, message)
    .transform(Number)
    .pipe(z.number().min(min, message).max(max, message))
    .default(fallback);
};

const DURATION_UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** `30d`, `12h`, `90m`, `45s` (1 second to 100 years) in ms, or `off` (false): how long finished sagas are kept. */
const retention = z
  .string()
  .regex(/^(off|\d{1,9}[smhd])$/, 'must be a duration such as 30d, 12h, 90m or 45s, or off')
  .transform((value) =>
    value === 'off'
      ? false
      : Number(value.slice(0, -1)) * DURATION_UNIT_MS[value.at(-1) as 's' | 'm' | 'h' | 'd'],
  )
  .pipe(
    z.union([
      z.literal(false),
      z
        .number()
        .min(1000, 'must be at least 1s')
        .max(100 * 365 * 86_400_000, 'must be at most 100 years'),
    ]),
  )
  .default(30 * DURATION_UNIT_MS.d);

const oneOf = <const T extends readonly [string, ...string[]]>(values: T, fallback: T[number]) =>
  z.enum(values, { error: `must be one of ${values.join(', ')}` }).default(fallback);

const databaseUrl = z
  .string()
  .regex(/^postgres(ql)?:\/\/.+\/[^/?]+/, 'must be a postgres:// URL that names a database');

/** The schema of the environment: one entry per variable, each with the message a bad value prints. */
const envSchema = z.object({
  // Connections
  DATABASE_URL: databaseUrl.default('postgres://postgres@127.0.0.1:5432/sagas'),
  DATABASE_POOLING: oneOf(['session', 'transaction'], 'session'),
  REDIS_URL: z
    .string()
    .regex(
      /^(rediss?:\/\/[^\s,]+(,rediss?:\/\/[^\s,]+)*|redis-cluster:\/\/[^\s,/]+(,[^\s,/]+)*)$/,
      'must be a redis:// or rediss:// URL, several of them separated by "," (the seed nodes of a Redis Cluster), ' +
        'or redis-cluster://host:port,host:port',
    )
    .default('redis://127.0.0.1:6379'),
  QUEUE_PREFIX: z
    .string()
    .regex(
      /^(?=.{1,64}$)[A-Za-z0-9_.:-]*(\{[A-Za-z0-9_.:-]+\}[A-Za-z0-9_.:-]*)?$/,
      'must be 1-64 letters, digits, "_", ".", ":" or "-", with at most one {hash tag} such as {saga}',
    )
    .default('saga'),
  // Process
  PORT: wholeNumber(0, 65535, 3000),
  SAGA_ROLE: oneOf(['all', 'api', 'worker'], 'all'),
  API_KEY: z
    .string()
    .regex(/^[\x21-\x7e]+$/, 'must be visible ASCII characters without spaces (it goes in a header)')
    .optional(),
  DATABASE_POOL_SIZE: wholeNumber(1, 500, 10),
  WORKER_CONCURRENCY: wholeNumber(1, 1000, 50),
  LOCK_DURATION_MS: wholeNumber(1000, 600_000, 5000),
  SHUTDOWN_GRACE_MS: wholeNumber(0, 600_000, 10_000),
  SAGA_RETENTION: retention,
  LOG_LEVEL: oneOf(['error', 'warn', 'log', 'debug', 'verbose'], 'log'),
  // Lines for people on a terminal; one JSON object a line for whatever reads a pipe or a file.
  LOG_FORMAT: z
    .enum(['pretty', 'json'], { error: 'must be one of pretty, json' })
    .default(() => (process.stdout.isTTY ? 'pretty' : 'json')),
  // Unset: no tracing, and no OpenTelemetry code loaded. The OTLP/HTTP base URL; spans go to /v1/traces.
  OTEL_EXPORTER_OTLP_ENDPOINT: z
    .url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' })
    .optional(),
  OTEL_SERVICE_NAME: z.string().max(255).default('nest-saga'),
});

export type AppConfig = z.infer<typeof envSchema>;

/** A bad environment: `issues` holds one line per bad variable, `VARIABLE: what it must be`. */
export class ConfigError extends Error {
  constructor(readonly issues: string[]) {
    super(`Invalid configuration:\n${issues.map((issue) => `  ${issue}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/**
 * Reads the environment once at boot; an unset or empty variable takes its default. Values are not
 * repeated in the messages: DATABASE_URL, REDIS_URL and API_KEY may hold secrets.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): AppConfig {
  const present = Object.fromEntries(
    Object.entries(env).filter(([, value]) => value !== undefined && value !== ''),
  );
  const parsed = envSchema.safeParse(present);
  if (parsed.success) return parsed.data;
  const byVariable = new Map<string, string>();
  for (const issue of parsed.error.issues) {
    const variable = issue.path.join('.');
    if (!byVariable.has(variable)) byVariable.set(variable, `${variable}: ${issue.message}`);
  }
  throw new ConfigError([...byVariable.values()]);
}

/**
 * `loadConfig()` for an entry point: a bad environment prints its messages alone (no stack trace,
 * which would say nothing the messages do not) and exits 1.
 */
export function loadConfigOrExit(env: NodeJS.ProcessEnv = process.env): AppConfig {
  try {
    return loadConfig(env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(error.message);
    process.exit(1);
  }
}
