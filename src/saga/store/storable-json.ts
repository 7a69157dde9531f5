import { InvalidInputError, type InputIssue } from '../errors/invalid-input.error.js';

/**
 * Postgres can store neither U+0000 nor an unpaired UTF-16 surrogate in `text` or `jsonb` (the
 * statement fails, which would be a 500); JSON and URLs can carry both, so input is refused with a 400 and
 * what handlers produce is repaired or refused before it reaches a statement.
 */
// eslint-disable-next-line no-control-regex -- U+0000 is what it looks for
const UNSTORABLE_TEXT = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
export const UNSTORABLE_TEXT_MESSAGE = 'must not contain the NUL character (U+0000) or an unpaired surrogate';

export function isStorableText(value: string): boolean {
  return !UNSTORABLE_TEXT.test(value);
}

/** Replaces what Postgres cannot store with U+FFFD, for text the engine writes on its own (error messages). */
export function toStorableText(value: string): string {
  return value.replace(new RegExp(UNSTORABLE_TEXT.source, 'g'), '\ufffd');
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
