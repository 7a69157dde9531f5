import { SetMetadata } from '@nestjs/common';
import type { OpenApiOperationOptions } from './openapi-operation.interface.js';

export const OPENAPI_OPERATION = 'saga:openapi-operation';

/**
 * Documents a route in `GET /openapi.json`. A route without it is left out of the document (and the
 * OpenAPI test names it), so every route carries one next to its `@Get`/`@Post`.
 */
export const OpenApiOperation = (options: OpenApiOperationOptions) => SetMetadata(OPENAPI_OPERATION, options);
