import { z } from 'zod';
import { InvalidInputError, type InputIssue } from '../errors/invalid-input.error.js';
import { SagaStatus } from '../saga-status.js';

const uuid = z
  .string()
  .regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, 'must be a UUID');

export const sagaIdSchema = uuid;

/**
 * Postgres can store neither U+0000 nor an unpaired UTF-16 surrogate in `text` or `jsonb` (the
 * statement fails, which would be a 500); JSON and URLs can carry both, so they are a 400 at the edge.
 */
const UNSTORABLE_TEXT = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const UNSTORABLE_TEXT_MESSAGE = 'must not contain the NUL character (U+0000) or an unpaired surrogate';

export function isStorableText(value: string): boolean {
  return !UNSTORABLE_TEXT.test(value);
}

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

/** Parses a request part, or throws the 400 that lists what is wrong with it. */
export function parseRequest<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw InvalidInputError.fromZod(`Invalid ${what}`, parsed.error);
  return parsed.data;
}

interface JsonNode {
  value: unknown;
  key?: string;
  parent?: JsonNode;
}

/**
 * Throws the 400 naming the first string or key in `value` that Postgres cannot store. Iterative,
 * so a body of deeply nested arrays (the body parser accepts any depth up to the size limit) cannot
 * overflow the stack.
 */
export function assertStorableJson(value: unknown, what: string): void {
  const stack: JsonNode[] = [{ value }];
  while (stack.length > 0) {
    const node = stack.pop()!;
    if (typeof node.value === 'string') {
      if (!isStorableText(node.value)) throw unstorable(what, node);
      continue;
    }
    if (node.value === null || typeof node.value !== 'object') continue;
    const entries: [string, unknown][] = Array.isArray(node.value)
      ? node.value.map((child, index) => [String(index), child])
      : Object.entries(node.value);
    // Pushed in reverse, so that the first offending value in document order is the one reported.
    for (let i = entries.length - 1; i >= 0; i--) {
      const [key, child] = entries[i];
      if (!isStorableText(key)) throw unstorable(what, { value: key, key, parent: node });
      stack.push({ value: child, key, parent: node });
    }
  }
}

function unstorable(what: string, node: JsonNode): InvalidInputError {
  const path: string[] = [];
  for (let n: JsonNode | undefined = node; n?.key !== undefined; n = n.parent) path.unshift(n.key);
  const issue: InputIssue = { path: path.join('.'), message: UNSTORABLE_TEXT_MESSAGE };
  return new InvalidInputError(`Invalid ${what}`, [issue]);
}
