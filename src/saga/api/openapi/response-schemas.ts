import { z } from 'zod';
import { CompensationStatus, SagaStatus, StepStatus } from '../../saga-status.js';

// The bodies the routes answer, as zod schemas for the OpenAPI document. Each is checked against the
// type its route returns at compile time (test/types/response-schemas.type-test.ts), and against real
// responses by the OpenAPI test: a field added to a view needs its line here.

const timestamp = z.iso.datetime({ offset: true });

export const sagaErrorSchema = z
  .object({
    name: z.string().meta({ description: 'NonRetryableError, StepTimeout, SagaCancelled, ...' }),
    message: z.string(),
    retryable: z.boolean(),
  })
  .meta({ id: 'SagaError', description: 'An error as stored and shown: never a stack.' });

export const errorBodySchema = z
  .object({
    statusCode: z.int().min(400).max(599),
    error: z.string().meta({ description: 'The reason phrase of the status code.' }),
    message: z.string(),
    issues: z
      .array(z.object({ path: z.string(), message: z.string() }))
      .optional()
      .meta({ description: 'What is wrong with each part of the input, for a validation error.' }),
  })
  .meta({ id: 'Error', description: 'The body of every error response.' });

export const sagaSummarySchema = z
  .object({ id: z.uuid(), name: z.string(), status: z.enum(SagaStatus) })
  .meta({ id: 'SagaSummary' });

export const bulkResultSchema = z
  .object({ matched: z.int().min(0).meta({ description: 'How many sagas the action was applied to.' }) })
  .meta({ id: 'BulkActionResult' });

export const scheduleListSchema = z
  .object({
    items: z.array(
      z
        .object({
          id: z.string(),
          saga: z.string(),
          cron: z.string(),
          timezone: z.string(),
          nextFireAt: timestamp.meta({ description: 'The fire time it waits for.' }),
          lastFireAt: timestamp.optional(),
          lastSagaId: z.uuid().optional().meta({ description: 'The saga its last fire started.' }),
        })
        .meta({ id: 'ScheduleView' }),
    ),
  })
  .meta({ id: 'ScheduleList' });

export const sagaCountsSchema = z
  .object({
    items: z.array(
      z.object({ name: z.string(), status: z.string(), count: z.int().min(0) }).meta({ id: 'SagaCount' }),
    ),
  })
  .meta({ id: 'SagaCounts', description: 'How many sagas there are of each name in each status.' });

const jsonSchema = z.record(z.string(), z.unknown()).meta({ description: 'A JSON Schema (draft 2020-12).' });
const handlerDefinitionFields = {
  method: z.string(),
  retry: z.object({
    attempts: z.int().min(1),
    backoff: z.object({
      type: z.enum(['exponential', 'fixed']),
      delay: z.number(),
      maxDelay: z.number(),
      jitter: z.number(),
    }),
  }),
  timeoutMs: z.number(),
  limits: z
    .object({
      concurrency: z.int().min(1).optional(),
      rateLimit: z.object({ max: z.int().min(1), durationMs: z.int().min(1) }).optional(),
    })
    .optional(),
};

export const sagaDefinitionsSchema = z
  .object({
    items: z.array(
      z
        .object({
          name: z.string(),
          version: z.int().min(1),
          latest: z.boolean().meta({ description: 'New sagas of this name start on this version.' }),
          className: z.string(),
          deadlineMs: z.number().optional(),
          priority: z.int().min(1).max(10),
          concurrencyKey: z.boolean().meta({ description: 'Whether it runs one saga per key at a time.' }),
          schedules: z.array(z.object({ id: z.string(), cron: z.string(), timezone: z.string() })),
          input: jsonSchema,
          steps: z.array(
            z.object({
              ...handlerDefinitionFields,
              name: z.string(),
              kind: z.enum(['task', 'wait', 'child']),
              group: z.string().optional(),
              compensateOnFailure: z.boolean(),
              compensation: z.object(handlerDefinitionFields).optional(),
              signal: z.object({ name: z.string(), schema: jsonSchema }).optional(),
              child: z.string().optional(),
              delayMs: z.number().optional(),
            }),
          ),
        })
        .meta({ id: 'SagaDefinition' }),
    ),
  })
  .meta({ id: 'SagaDefinitions' });

export const signalReceiptSchema = z
  .object({ id: z.uuid(), signal: z.string(), status: z.literal('accepted') })
  .meta({ id: 'SignalReceipt' });

const compensationViewSchema = z
  .object({
    status: z.enum(CompensationStatus),
    attempts: z.int().min(0),
    startedAt: timestamp.optional(),
    finishedAt: timestamp.optional(),
    error: sagaErrorSchema.optional(),
    progress: z
      .unknown()
      .optional()
      .meta({ description: 'What its handler last reported with `ctx.progress()`.' }),
  })
  .meta({ id: 'CompensationView' });

const stepViewSchema = z
  .object({
    name: z.string(),
    kind: z
      .enum(['task', 'wait', 'child'])
      .meta({ description: '`task` runs a handler, `wait` waits for a signal, `child` runs a child saga.' }),
    group: z.string().optional().meta({ description: 'The parallel group the step runs in.' }),
    status: z.enum(StepStatus),
    attempts: z.int().min(0),
    startedAt: timestamp.optional(),
    finishedAt: timestamp.optional(),
    output: z.unknown().optional(),
    error: sagaErrorSchema.optional(),
    dueAt: timestamp.optional().meta({ description: 'When its next attempt is due, or its wait times out.' }),
    waitingFor: z.string().optional().meta({ description: 'The signal it waits for, while it waits.' }),
    childId: z.uuid().optional().meta({ description: 'Its child saga, once started.' }),
    progress: z.unknown().optional().meta({
      description: 'What its handler last reported with `ctx.progress()`: 0..100 or a small object.',
    }),
    compensation: compensationViewSchema.optional(),
  })
  .meta({ id: 'StepView' });

const sagaFields = {
  id: z.uuid(),
  name: z.string(),
  version: z.int().min(1),
  status: z.enum(SagaStatus),
  input: z.unknown(),
  output: z.unknown().optional(),
  error: sagaErrorSchema.optional(),
  createdAt: timestamp,
  updatedAt: timestamp,
  completedAt: timestamp.optional(),
  startAt: timestamp.optional().meta({ description: 'When a scheduled start is due.' }),
  deadlineAt: timestamp.optional(),
  parentId: z.uuid().optional(),
  children: z
    .array(
      z
        .object({ id: z.uuid(), name: z.string(), status: z.enum(SagaStatus), step: z.string() })
        .meta({ id: 'ChildView' }),
    )
    .optional()
    .meta({ description: 'The child sagas its child steps started, and the step that started each.' }),
};

export const sagaViewSchema = z
  .object({ ...sagaFields, steps: z.array(stepViewSchema) })
  .meta({ id: 'SagaView' });

export const sagaListSchema = z
  .object({
    items: z.array(
      z.object(sagaFields).meta({ id: 'SagaListItem', description: 'A saga view without steps.' }),
    ),
    nextCursor: z
      .uuid()
      .nullable()
      .meta({ description: 'Pass it as `cursor` for the next page; null on the last.' }),
  })
  .meta({ id: 'SagaList' });

export const sagaEventsSchema = z
  .object({
    items: z.array(
      z
        .object({
          seq: z.int().min(1),
          type: z.string(),
          step: z.string().optional(),
          attempt: z.int().min(1).optional(),
          at: timestamp,
          data: z.unknown().optional(),
        })
        .meta({ id: 'SagaEvent' }),
    ),
  })
  .meta({ id: 'SagaEvents', description: 'Oldest first.' });

const dependency = z.enum(['up', 'down']);

export const healthSchema = z
  .object({ status: z.enum(['ok', 'unavailable']), postgres: dependency, redis: dependency })
  .meta({ id: 'Health' });
