import { z, type ZodType } from 'zod';

export type JsonSchema = Record<string, unknown>;

const COMPONENTS = '#/components/schemas/';

/**
 * zod schemas as the JSON Schema (draft 2020-12, OpenAPI 3.1's dialect) of one document. Named
 * parts (`.meta({ id })`) become components that every schema of the document refers to; two
 * different schemas that claim one name get distinct ones (`Item`, `Item_2`).
 */
export class SchemaComponents {
  readonly schemas: Record<string, JsonSchema> = {};
  /** The converted form each component was claimed with, to tell the same schema from another of that name. */
  private readonly claimedAs = new Map<string, string>();

  /** The schema in place, its named parts referring to components. */
  inline(schema: ZodType): JsonSchema {
    return this.convert(schema).root;
  }

  /** A reference to the schema as a component: its own `.meta({ id })`, else `name`. */
  ref(schema: ZodType, name: string): JsonSchema {
    const { root, rename } = this.convert(schema);
    if (typeof root.$ref === 'string' && Object.keys(root).length === 1) return root;
    const claimed = this.claim(name, root);
    // A recursive schema refers to itself as "#": the component it now is.
    this.schemas[claimed] = rewriteRefs(root, (ref) =>
      ref === '#' ? `${COMPONENTS}${claimed}` : rename(ref),
    );
    return { $ref: `${COMPONENTS}${claimed}` };
  }

  private convert(schema: ZodType): { root: JsonSchema; rename: (ref: string) => string } {
    const converted = z.toJSONSchema(schema, {
      target: 'draft-2020-12',
      // Request bodies and queries are documented as sent, before transforms and defaults apply.
      io: 'input',
      // A type JSON cannot carry (a Date, a bigint) is documented as "any": the route's parsing says more.
      unrepresentable: 'any',
    }) as JsonSchema;
    const { $schema: _dialect, $defs, ...root } = converted;
    const names = new Map<string, string>();
    for (const [id, definition] of Object.entries(($defs ?? {}) as Record<string, JsonSchema>)) {
      names.set(`#/$defs/${id}`, this.claim(id, definition));
    }
    const rename = (ref: string) => {
      const name = names.get(ref);
      return name ? `${COMPONENTS}${name}` : ref;
    };
    for (const [id, definition] of Object.entries(($defs ?? {}) as Record<string, JsonSchema>)) {
      this.schemas[names.get(`#/$defs/${id}`)!] = rewriteRefs(definition, rename);
    }
    return { root: rewriteRefs(root, rename), rename };
  }

  /** The component name for `schema`: `name` unless another schema has it already. */
  private claim(name: string, schema: JsonSchema): string {
    const form = JSON.stringify(schema);
    for (let n = 1; ; n++) {
      const candidate = n === 1 ? name : `${name}_${n}`;
      const existing = this.claimedAs.get(candidate);
      if (existing === undefined) {
        this.claimedAs.set(candidate, form);
        return candidate;
      }
      if (existing === form) return candidate;
    }
  }
}

function rewriteRefs(value: JsonSchema, rename: (ref: string) => string): JsonSchema {
  const rewrite = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(rewrite);
    if (typeof node !== 'object' || node === null) return node;
    return Object.fromEntries(
      Object.entries(node).map(([key, child]) => [
        key,
        key === '$ref' && typeof child === 'string' ? rename(child) : rewrite(child),
      ]),
    );
  };
  return rewrite(value) as JsonSchema;
}
