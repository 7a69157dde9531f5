import { z } from 'zod';
import { InvalidInputError } from '../errors/invalid-input.error.js';
import { isStorableText, UNSTORABLE_TEXT_MESSAGE } from '../store/storable-json.js';
import { SAGA_PRIORITY } from '../definition/saga-priority.js';
import { SagaStatus } from '../saga-status.js';

const uuid = z
  .string()
  .regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, 'must be a UUID');

export const sagaIdSchema = uuid;

export const idempotencyKeySchema = z
  .string()
  .regex(/^[\x21-\x7e]{1,255}$/, 'must be 1-255 visible ASCII characters')
  .optional();

const MAX_DELAY_MS = 365 * 24 * 60 * 60 * 1000;
const wholeMs = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d{1,12}$/, `must be a whole number of milliseconds from ${min} to ${max}`)
    .transform(Number)
    .pipe(z.number().min(min, `must be at least ${min}`).max(max, `must be at most ${max}`))
    .meta({ description: `Whole milliseconds, ${min} to ${max}` });
export const timestamp = z.iso
  .datetime({ offset: true, message: 'must be an ISO-8601 timestamp' })
  .transform((v) => new Date(v))
  .meta({ description: 'ISO-8601, with `Z` or an offset' });

const { first, last } = SAGA_PRIORITY;
const priority = z
  .string()
  .regex(/^\d{1,2}$/, `must be a whole number from ${first} to ${last}`)
  .transform(Number)
  .pipe(
    z
      .number()
      .min(first, `must be a whole number from ${first} to ${last}`)
      .max(last, `must be a whole number from ${first} to ${last}`),
  );

/**
 * `POST /sagas/{name}?delayMs=&startAt=&deadlineMs=&priority=`: when the saga starts, how long it
 * may take, and how soon its units are taken with a backlog.
 */
export const startQuerySchema = z
  .strictObject({
    delayMs: wholeMs(0, MAX_DELAY_MS).optional(),
    startAt: timestamp.optional(),
    deadlineMs: wholeMs(100, 2_147_483_647).optional(),
    priority: priority.optional(),
  })
  .refine((q) => q.delayMs === undefined || q.startAt === undefined, {
    message: 'give delayMs or startAt, not both',
    path: ['startAt'],
  })
  .refine((q) => !(q.startAt instanceof Date) || q.startAt.getTime() - Date.now() <= MAX_DELAY_MS, {
    message: 'must be at most one year ahead',
    path: ['startAt'],
  })
  .transform(({ delayMs, startAt, deadlineMs, priority }) => ({
    ...(startAt ? { startAt } : { startInMs: delayMs ?? 0 }),
    ...(deadlineMs === undefined ? {} : { deadlineMs }),
    ...(priority === undefined ? {} : { priority }),
  }));

/** A signal's name in a path, as `@Step({ signal: { name } })` allows it. */
export const signalNameSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/, 'must be 1-100 letters, digits, "_", "." or "-"');

/** A saga name to filter by. */
export const sagaNameFilter = z.string().min(1).max(100).refine(isStorableText, UNSTORABLE_TEXT_MESSAGE);

export const listQuerySchema = z.strictObject({
  name: sagaNameFilter.optional(),
  status: z.enum(Object.values(SagaStatus) as [SagaStatus, ...SagaStatus[]]).optional(),
  limit: z
    .string()
    .regex(/^\d{1,3}$/, 'must be a whole number from 1 to 100')
    .transform(Number)
    .pipe(
      z
        .number()
        .min(1, 'must be a whole number from 1 to 100')
        .max(100, 'must be a whole number from 1 to 100'),
    )
    .default(20),
  cursor: uuid.optional(),
  parentId: uuid.optional(),
  createdAfter: timestamp.optional(),
  createdBefore: timestamp.optional(),
});

/**
 * The body of POST /sagas/{name} holds the saga's input, and that of a signal its payload: always an
 * object; the saga's or the signal's schema checks the rest.
 */
export function assertJsonObjectBody(body: unknown): void {
  if (typeof body === 'object' && body !== null && !Array.isArray(body)) return;
  const received = describeBody(body);
  throw new InvalidInputError(`Request body must be a JSON object, received ${received}`, [
    { path: '', message: `expected a JSON object, received ${received}` },
  ]);
}

function describeBody(body: unknown): string {
  if (body === undefined) return 'no body';
  if (body === null) return 'null';
  return Array.isArray(body) ? 'an array' : `a ${typeof body}`;
}

/** Parses a request part, or throws the 400 that lists what is wrong with it. */
export function parseRequest<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw InvalidInputError.fromZod(`Invalid ${what}`, parsed.error);
  return parsed.data;
}
