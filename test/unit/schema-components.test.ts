import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { z } from 'zod';
import { SchemaComponents } from '../../src/saga/api/openapi/schema-components.js';

// zod schemas as the components of one OpenAPI document: every $ref must resolve inside the document.

const COMPONENTS = '#/components/schemas/';

/** Every $ref in `value`, which must all name a component. */
function refsIn(value: unknown): string[] {
  if (Array.isArray(value)) return value.flatMap(refsIn);
  if (typeof value !== 'object' || value === null) return [];
  return Object.entries(value).flatMap(([key, child]) =>
    key === '$ref' && typeof child === 'string' ? [child] : refsIn(child),
  );
}

function assertResolvable(components: SchemaComponents, ...roots: unknown[]): void {
  for (const ref of refsIn([components.schemas, ...roots])) {
    assert.ok(ref.startsWith(COMPONENTS), `${ref} points outside the components`);
    assert.ok(components.schemas[ref.slice(COMPONENTS.length)], `${ref} names no component`);
  }
}

describe('SchemaComponents', () => {
  it('documents a body as it is sent: before transforms, with defaults optional, without the dialect line', () => {
    const components = new SchemaComponents();
    const schema = z.object({ count: z.string().transform(Number), size: z.int().default(3) });
    assert.deepEqual(components.ref(schema, 'Body'), { $ref: `${COMPONENTS}Body` });
    assert.deepEqual(components.schemas.Body, {
      type: 'object',
      properties: {
        count: { type: 'string' },
        size: {
          type: 'integer',
          minimum: Number.MIN_SAFE_INTEGER,
          maximum: Number.MAX_SAFE_INTEGER,
          default: 3,
        },
      },
      required: ['count'],
    });
  });

  it('keeps a schema named with .meta({ id }) under its own name, once, however many schemas use it', () => {
    const components = new SchemaComponents();
    const address = z.object({ city: z.string() }).meta({ id: 'TestAddress' });
    const order = z.object({ ship: address, bill: address.optional() });
    const refund = z.object({ to: address });
    const orderRef = components.ref(order, 'Order');
    assert.deepEqual(components.ref(address, 'Ignored'), { $ref: `${COMPONENTS}TestAddress` });
    const inline = components.inline(refund);
    assert.deepEqual(Object.keys(components.schemas).sort(), ['Order', 'TestAddress']);
    assert.deepEqual(inline, {
      type: 'object',
      properties: { to: { $ref: `${COMPONENTS}TestAddress` } },
      required: ['to'],
    });
    assertResolvable(components, orderRef, inline);
  });

  it('gives two different schemas that claim one name a name each, and a recursive schema a reference to itself', () => {
    const components = new SchemaComponents();
    // zod names each recursive part `__schema0` in its own conversion: two documents' worth of one name.
    const list: z.ZodType = z.object({
      value: z.string(),
      get next() {
        return list.optional();
      },
    });
    const tree: z.ZodType = z.object({
      size: z.number(),
      get children() {
        return z.array(tree);
      },
    });
    const first = components.ref(z.object({ head: list }), 'First');
    const second = components.ref(z.object({ root: tree }), 'Second');
    const itself = components.ref(tree, 'Tree');
    assertResolvable(components, first, second, itself);
    const target = (schema: unknown, property: string) =>
      (schema as { properties: Record<string, { $ref: string }> }).properties[property].$ref.slice(
        COMPONENTS.length,
      );
    const listName = target(components.schemas.First, 'head');
    const treeName = target(components.schemas.Second, 'root');
    assert.notEqual(listName, treeName);
    assert.deepEqual(Object.keys(components.schemas[listName]).sort(), ['properties', 'required', 'type']);
    assert.equal(target(components.schemas[listName], 'next'), listName);
    assert.deepEqual((components.schemas.Tree as { properties: { children: unknown } }).properties.children, {
      type: 'array',
      items: { $ref: `${COMPONENTS}Tree` },
    });
  });
});
