import { z } from 'zod';
import type {
  HandlerDefinition,
  SagaDefinition,
  StepDefinition,
  StepKind,
} from './saga-definition.interface.js';

/** A JSON Schema (draft 2020-12), as zod 4 writes it. */
export type JsonSchema = Record<string, unknown>;

export interface StepDefinitionView extends HandlerDefinition {
  name: string;
  kind: StepKind;
  group?: string;
  compensateOnFailure: boolean;
  compensation?: HandlerDefinition;
  /** The signal a wait step waits for, and the JSON Schema of its payload. */
  signal?: { name: string; schema: JsonSchema };
  /** The saga a child step starts. */
  child?: string;
  /** A durable sleep before the step, in ms. */
  delayMs?: number;
}

/** What `GET /definitions` shows of one version of a saga. */
export interface SagaDefinitionView {
  name: string;
  version: number;
  /** New sagas of this name start on this version (the highest). */
  latest: boolean;
  className: string;
  deadlineMs?: number;
  /** Its starts' default priority, 1 (first) .. 10. */
  priority: number;
  /** Whether it runs one saga per concurrency key at a time. */
  concurrencyKey: boolean;
  /** Its cron schedules. */
  schedules: { id: string; cron: string; timezone: string }[];
  input: JsonSchema;
  steps: StepDefinitionView[];
}

export function toSagaDefinitionView(def: SagaDefinition, latest: boolean): SagaDefinitionView {
  return {
    name: def.name,
    version: def.version,
    latest,
    className: def.className,
    ...(def.deadlineMs === undefined ? {} : { deadlineMs: def.deadlineMs }),
    priority: def.priority,
    concurrencyKey: def.concurrencyKey !== undefined,
    schedules: def.schedules.map(({ id, cron }) => ({ id, cron: cron.expression, timezone: cron.timezone })),
    input: toJsonSchema(def.input),
    steps: def.steps.map(toStepView),
  };
}

function toStepView(step: StepDefinition): StepDefinitionView {
  return {
    name: step.name,
    kind: step.kind,
    ...(step.group === undefined ? {} : { group: step.group }),
    method: step.method,
    retry: step.retry,
    timeoutMs: step.timeoutMs,
    ...(step.limits ? { limits: step.limits } : {}),
    ...(step.delayMs === undefined ? {} : { delayMs: step.delayMs }),
    compensateOnFailure: step.compensateOnFailure,
    ...(step.compensation ? { compensation: step.compensation } : {}),
    ...(step.signal ? { signal: { name: step.signal.name, schema: toJsonSchema(step.signal.schema) } } : {}),
    ...(step.child === undefined ? {} : { child: step.child }),
  };
}

/** What a client may send: the input side of transforms; a type JSON Schema cannot say is left open. */
function toJsonSchema(schema: z.ZodType): JsonSchema {
  return z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
}
