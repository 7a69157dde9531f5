import { z } from 'zod';
import { InvalidInputError } from '../errors/invalid-input.error.js';
import { isStorableText, UNSTORABLE_TEXT_MESSAGE } from '../store/storable-json.js';
import { SagaStatus } from '../saga-status.js';

const uuid = z
  .string()
  .regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, 'must be a UUID');

export const sagaIdSchema = uuid;

export const idempotencyKeySchema = z
  .string()
  .regex(/^[\x21-\x7e]{1,255}$/, 'must be 1-255 visible ASCII characters')
  .optional();

export const listQuerySchema = z.strictObject({
  name: z.string().min(1).max(100).refine(isStorableText, UNSTORABLE_TEXT_MESSAGE).optional(),
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
});

/** The body of POST /sagas/{name} holds the saga's input, always an object; the saga's schema checks the rest. */
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
