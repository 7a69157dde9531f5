import { z } from 'zod';

/** A whole number in a range; unlike z.coerce, rejects blanks and fractions instead of reading them as numbers. */
const wholeNumber = (min: number, max: number, fallback: number) =>
  z
    .string()
    .regex(/^\d+$/, 'must be a whole number')
    .transform(Number)
    .pipe(z.number().min(min).max(max))
    .default(fallback);

const envSchema = z.object({
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\/.+\/[^/?]+/, 'must be a postgres:// URL that names a database')
    .default('postgres://postgres@127.0.0.1:5432/sagas'),
  REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\/\S+$/, 'must be a redis:// or rediss:// URL')
    .default('redis://127.0.0.1:6379'),
  PORT: wholeNumber(0, 65535, 3000),
  SAGA_ROLE: z.enum(['all', 'api', 'worker']).default('all'),
  API_KEY: z
    .string()
    .regex(/^[\x21-\x7e]+$/, 'must be visible ASCII characters without spaces (it goes in a header)')
    .optional(),
  QUEUE_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_.:-]{1,64}$/, 'must be 1-64 letters, digits, "_", ".", ":" or "-"')
    .default('saga'),
  DATABASE_POOL_SIZE: wholeNumber(1, 500, 10),
  WORKER_CONCURRENCY: wholeNumber(1, 1000, 50),
  LOCK_DURATION_MS: wholeNumber(1000, 600_000, 5000),
  SHUTDOWN_GRACE_MS: wholeNumber(0, 600_000, 10_000),
  LOG_LEVEL: z.enum(['error', 'warn', 'log', 'debug', 'verbose']).default('log'),
  // Lines for people on a terminal; one JSON object a line for whatever reads a pipe or a file.
  LOG_FORMAT: z.enum(['pretty', 'json']).default(() => (process.stdout.isTTY ? 'pretty' : 'json')),
  // Unset: no tracing, and no OpenTelemetry code loaded. The OTLP/HTTP base URL; spans go to /v1/traces.
  OTEL_EXPORTER_OTLP_ENDPOINT: z
    .url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' })
    .optional(),
  OTEL_SERVICE_NAME: z.string().max(255).default('nest-saga'),
});

export type AppConfig = z.infer<typeof envSchema>;

export class ConfigError extends Error {
  constructor(issues: string[]) {
    super(`Invalid configuration:\n${issues.map((i) => `  - ${i}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Reads the environment once at boot; an unset or empty variable takes its default. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): AppConfig {
  const present = Object.fromEntries(
    Object.entries(env).filter(([, value]) => value !== undefined && value !== ''),
  );
  const parsed = envSchema.safeParse(present);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`));
  }
  return parsed.data;
}
