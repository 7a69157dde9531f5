import { Inject, Injectable } from '@nestjs/common';
import type { ZodType } from 'zod';
import { SagaRegistry } from '../../definition/saga-registry.js';
import { SAGA_MODULE_OPTIONS, type ResolvedSagaModuleOptions } from '../../saga-module-options.js';
import { DocumentedRoutes, type DocumentedRoute } from './documented-routes.js';
import type { OpenApiOperationOptions } from './openapi-operation.interface.js';
import { errorBodySchema } from './response-schemas.js';
import { SchemaComponents, type JsonSchema } from './schema-components.js';

export type OpenApiDocument = Record<string, unknown> & { paths: Record<string, Record<string, JsonSchema>> };

/** One operation of a route: a route whose path names a saga or a signal has one per saga or signal. */
interface Variant {
  path: string;
  suffix?: string;
  body?: JsonSchema;
  note?: string;
}

const SECURITY_SCHEME = 'bearer';

const DESCRIPTION = `The saga engine's HTTP API. Bodies are JSON; every error is \`{ statusCode, error, message }\`,
with \`issues: [{ path, message }]\` for a validation error. Timestamps are ISO-8601.

- A path that routes serve with other methods answers **405** with an \`Allow\` header.
- While Postgres or Redis is unreachable, a route that needs it answers **503** at once.
- Worker processes (\`SAGA_ROLE=worker\`) serve only \`/health\` and \`/metrics\`: every other route answers 404 there.`;

/**
 * The OpenAPI 3.1 document of the app: every route that carries `@OpenApiOperation`, with its
 * parameters and bodies as JSON Schema generated from the zod schemas that parse them, each
 * registered saga's input and each declared signal's payload.
 */
@Injectable()
export class OpenApiDocumentFactory {
  private built?: OpenApiDocument;

  constructor(
    private readonly routes: DocumentedRoutes,
    private readonly registry: SagaRegistry,
    @Inject(SAGA_MODULE_OPTIONS) private readonly options: ResolvedSagaModuleOptions,
  ) {}

  /** Built on first use, when every route and saga is known, then kept: neither changes while the app runs. */
  document(): OpenApiDocument {
    return (this.built ??= this.build());
  }

  private build(): OpenApiDocument {
    const components = new SchemaComponents();
    const paths: OpenApiDocument['paths'] = {};
    for (const route of this.routes.all()) {
      for (const variant of this.variants(route, components)) {
        paths[variant.path] ??= {};
        paths[variant.path][route.method] = this.operation(route, variant, components);
      }
    }
    const auth = this.options.apiKey !== undefined;
    return {
      openapi: '3.1.1',
      info: {
        title: 'Sagas',
        version: '1',
        description: auth
          ? `${DESCRIPTION}\n\nEvery route but those marked unauthenticated needs \`Authorization: Bearer <API_KEY>\`.`
          : DESCRIPTION,
      },
      paths,
      components: {
        schemas: components.schemas,
        ...(auth ? { securitySchemes: { [SECURITY_SCHEME]: { type: 'http', scheme: 'bearer' } } } : {}),
      },
    };
  }

  private variants(route: DocumentedRoute, components: SchemaComponents): Variant[] {
    const { body } = route.operation;
    if (body === 'saga-input') {
      return [...new Set(this.registry.all().map((d) => d.name))].map((name) => {
        const definition = this.registry.find(name)!;
        return {
          path: route.path.replace('{name}', name),
          suffix: name,
          body: components.ref(definition.input, `SagaInput.${name}`),
          note: `The body is the input of saga \`${name}\` (version ${definition.version}, which new starts use).`,
        };
      });
    }
    if (body === 'signal-payload') {
      return [...this.signals()].map(([signal, declarations]) => {
        const schemas = [...new Set(declarations.map((d) => d.schema))].map((schema) =>
          components.ref(schema, `SignalPayload.${signal}`),
        );
        const distinct = [...new Map(schemas.map((s) => [s.$ref, s])).values()];
        return {
          path: route.path.replace('{signal}', signal),
          suffix: signal,
          body: distinct.length === 1 ? distinct[0] : { anyOf: distinct },
          note: `The body is the payload of signal \`${signal}\`, which ${declarations
            .map((d) => `\`${d.saga}\``)
            .join(', ')} wait${declarations.length === 1 ? 's' : ''} for.`,
        };
      });
    }
    return [{ path: route.path, body: body && components.inline(body) }];
  }

  /** Each declared signal, with the sagas (and versions) that wait for it and the schema each gives it. */
  private signals(): Map<string, { saga: string; schema: ZodType }[]> {
    const signals = new Map<string, { saga: string; schema: ZodType }[]>();
    for (const definition of this.registry.all()) {
      for (const step of definition.steps) {
        if (!step.signal) continue;
        const saga = `${definition.name}@${definition.version}`;
        const declarations = signals.get(step.signal.name) ?? [];
        if (!declarations.some((d) => d.saga === saga))
          declarations.push({ saga, schema: step.signal.schema });
        signals.set(step.signal.name, declarations);
      }
    }
    return signals;
  }

  private operation(route: DocumentedRoute, variant: Variant, components: SchemaComponents): JsonSchema {
    const { operation } = route;
    const description = [operation.description, variant.note].filter(Boolean).join('\n\n');
    return {
      operationId: variant.suffix ? `${route.operationId}.${variant.suffix}` : route.operationId,
      summary: variant.suffix ? `${operation.summary}: ${variant.suffix}` : operation.summary,
      ...(description ? { description } : {}),
      tags: [route.tag],
      parameters: parameters(variant.path, operation, components),
      ...(variant.body
        ? { requestBody: { required: true, content: { 'application/json': { schema: variant.body } } } }
        : {}),
      responses: this.responses(route, variant.body !== undefined, components),
      ...(route.needsApiKey && this.options.apiKey !== undefined
        ? { security: [{ [SECURITY_SCHEME]: [] }] }
        : {}),
    };
  }

  private responses(route: DocumentedRoute, hasBody: boolean, components: SchemaComponents): JsonSchema {
    const errors: Record<number, string> = {};
    if (hasBody) {
      errors[400] = 'The body is not valid JSON, or not what the route takes (see `issues`)';
      errors[413] = 'The body is larger than 1 MiB';
      errors[415] = 'The body was not sent as `application/json`';
    }
    if (route.needsApiKey && this.options.apiKey !== undefined) errors[401] = 'Missing or wrong API key';
    if (route.operation.usesBackingServices !== false) errors[503] = 'Postgres or Redis is unreachable';
    const all = { ...errors, ...route.operation.responses };
    const errorBody = { content: { 'application/json': { schema: components.inline(errorBodySchema) } } };
    return Object.fromEntries(
      Object.entries(all).map(([status, response]) => {
        if (typeof response === 'string') return [status, { description: response, ...errorBody }];
        const { description, schema, contentType = 'application/json' } = response;
        return [
          status,
          {
            description,
            ...(schema ? { content: { [contentType]: { schema: components.inline(schema) } } } : {}),
          },
        ];
      }),
    );
  }
}

function parameters(
  path: string,
  operation: OpenApiOperationOptions,
  components: SchemaComponents,
): JsonSchema[] {
  const inPath = [...path.matchAll(/\{([^}]+)\}/g)].map(([, name]) => ({
    name,
    in: 'path',
    required: true,
    schema: operation.params?.[name] ? components.inline(operation.params[name]) : { type: 'string' },
  }));
  const inHeaders = Object.entries(operation.headers ?? {}).map(([name, schema]) => ({
    name,
    in: 'header',
    required: !schema.safeParse(undefined).success,
    schema: components.inline(schema),
  }));
  return [...inPath, ...queryParameters(operation.query, components), ...inHeaders];
}

/** One parameter per property of the query's object schema. */
function queryParameters(query: ZodType | undefined, components: SchemaComponents): JsonSchema[] {
  if (!query) return [];
  const schema = components.inline(query) as { properties?: Record<string, JsonSchema>; required?: string[] };
  return Object.entries(schema.properties ?? {}).map(([name, property]) => ({
    name,
    in: 'query',
    required: schema.required?.includes(name) ?? false,
    ...(typeof property.description === 'string' ? { description: property.description } : {}),
    schema: property,
  }));
}
