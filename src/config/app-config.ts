import { z } from 'zod';

/** A whole number in a range; unlike z.coerce, rejects blanks and fractions instead of reading them as numbers. */
const wholeNumber = (min: number, max: number, fallback: number) =>
  z
    .string()
    .regex(/^\d+$/, 'must be a whole number')
    .transform(Number)
    .pipe(z.number().min(min).max(max))
    .default(fallback);

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
  SAGA_RETENTION: retention,
  LOG_LEVEL: z.enum(['error', 'warn', 'log', 'debug', 'verbose']).default('log'),
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
