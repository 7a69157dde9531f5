// Type-level tests of the response schemas of the OpenAPI document: compiled by `npm run build`, never
// run. Each schema must describe exactly what its route returns: a field added to a route's answer (or
// to a view it returns) without its line in src/saga/api/openapi/response-schemas.ts fails the build.
import type { z } from 'zod';
import type { ErrorBody } from '../../src/saga/api/error-response.js';
import type { HealthController } from '../../src/saga/api/health.controller.js';
import {
  bulkResultSchema,
  errorBodySchema,
  healthSchema,
  sagaCountsSchema,
  sagaDefinitionsSchema,
  sagaEventsSchema,
  sagaListSchema,
  sagaSummarySchema,
  sagaViewSchema,
  scheduleListSchema,
  signalReceiptSchema,
} from '../../src/saga/api/openapi/response-schemas.js';
import type { SagaActionsController } from '../../src/saga/api/saga-actions.controller.js';
import type { SagasController } from '../../src/saga/api/sagas.controller.js';
import type { SchedulesController } from '../../src/saga/api/schedules.controller.js';
import type { SagaCountsController } from '../../src/saga/api/saga-counts.controller.js';
import type { DefinitionsController } from '../../src/saga/api/definitions.controller.js';
import type { StepView } from '../../src/saga/store/saga-views.js';

/** `true` only when A and B are the same type, not merely assignable one way or both. */
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
/** Compiles only when the schema's type is exactly T. */
const describes =
  <T>() =>
  <S extends z.ZodType>(
    _schema: S,
    ..._mismatch: Equal<z.output<S>, T> extends true ? [] : ['not exactly']
  ) =>
    undefined;
/** Compiles only when each type is assignable to the other: for a view whose optional fields a route always sends. */
const accepts =
  <T>() =>
  <S extends z.ZodType>(
    _schema: S,
    ..._mismatch: [z.output<S>] extends [T]
      ? [T] extends [z.output<S>]
        ? []
        : ['misses a field']
      : ['extra field']
  ) =>
    undefined;

type Answer<Method extends (...args: never[]) => unknown> = Awaited<ReturnType<Method>>;

describes<Answer<SagasController['start']>>()(sagaSummarySchema);
describes<Answer<SagasController['cancel']>>()(sagaSummarySchema);
describes<Answer<SagasController['retry']>>()(sagaSummarySchema);
describes<Answer<SagasController['signal']>>()(signalReceiptSchema);
describes<Answer<SagasController['events']>>()(sagaEventsSchema);
describes<Answer<HealthController['health']>>()(healthSchema);
describes<Answer<SagaActionsController['retryStep']>>()(sagaSummarySchema);
describes<Answer<SagaActionsController['skipStep']>>()(sagaSummarySchema);
describes<Answer<SagaActionsController['cancelMatching']>>()(bulkResultSchema);
describes<Answer<SagaActionsController['retryMatching']>>()(bulkResultSchema);
describes<Answer<SchedulesController['list']>>()(scheduleListSchema);
describes<Answer<SagaCountsController['counts']>>()(sagaCountsSchema);
accepts<ReturnType<DefinitionsController['list']>>()(sagaDefinitionsSchema);
describes<ErrorBody>()(errorBodySchema);
// GET /sagas/{id} always sends `steps`; the list's items never do.
accepts<Answer<SagasController['get']> & { steps: StepView[] }>()(sagaViewSchema);
accepts<{ items: Omit<Answer<SagasController['get']>, 'steps'>[]; nextCursor: string | null }>()(
  sagaListSchema,
);
accepts<Answer<SagasController['list']>>()(sagaListSchema);
