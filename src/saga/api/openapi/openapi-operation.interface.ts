import type { ZodType } from 'zod';

/** A success response: what it means, and its body. */
export interface SuccessResponseDoc {
  description: string;
  /** The JSON body's schema; for another content type, the body's (a string schema for text). */
  schema?: ZodType;
  /** @defaultValue `application/json` */
  contentType?: string;
}

/**
 * The body of a request. `saga-input` and `signal-payload` are the bodies of the routes whose path
 * names a saga (`:name`) or a signal (`:signal`): the route is then documented once per registered
 * saga or declared signal, each with that saga's input or that signal's payload as its schema.
 */
export type RequestBodyDoc = ZodType | 'saga-input' | 'signal-payload';

/** What `@OpenApiOperation` says about a route; its path and method come from the route's own decorators. */
export interface OpenApiOperationOptions {
  summary: string;
  /** Markdown. */
  description?: string;
  /** Schemas of the path parameters by name, as the route parses them. @defaultValue any string */
  params?: Record<string, ZodType>;
  /** The query as the route parses it: an object schema, one parameter per property. */
  query?: ZodType;
  /** Request headers by name, as the route parses them; optional when the schema accepts `undefined`. */
  headers?: Record<string, ZodType>;
  body?: RequestBodyDoc;
  /**
   * Every status the route answers by itself, by code: a success with its body, or a failure as the
   * sentence that says when (its body is the error shape). The generator adds what every route of
   * its kind answers: 401 (API key), 400/413/415 (a body), 503 (backing services).
   */
  responses: Record<number, SuccessResponseDoc | string>;
  /** false for a route that answers without Postgres or Redis: it is documented without a 503. @defaultValue true */
  usesBackingServices?: boolean;
}
