import { z } from 'zod';
import { SagaDefinitionError } from '../errors/saga-definition.error.js';
import type { CompensateMetadata } from '../decorators/compensate.decorator.js';
import type { HandlerDefinition, SagaDefinition, StepDefinition } from './saga-definition.interface.js';
import type { HandlerOptions, SagaOptions, StepOptions } from './saga-options.interface.js';
import { buildSchedules } from './build-schedules.js';
import { resolveRetryPolicy, type RetryPolicy } from './retry-policy.js';
import { SAGA_PRIORITY } from './saga-priority.js';

export interface HandlerDefaults {
  retry: RetryPolicy;
  timeoutMs: number;
}

/** One method of a saga class with the decorator metadata found on it, in declaration order. */
export interface DecoratedMethod {
  name: string;
  step?: StepOptions;
  compensate?: CompensateMetadata;
}

const sagaOptionsSchema = z.object({
  name: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/, 'must be 1-100 letters, digits, "_", "." or "-"'),
  version: z.int().min(1).optional(),
  deadlineMs: z.int().min(100).max(2_147_483_647).optional(),
  concurrencyKey: z
    .custom<(input: unknown) => unknown>((v) => typeof v === 'function', 'must be a function')
    .optional(),
  priority: z.int().min(SAGA_PRIORITY.first).max(SAGA_PRIORITY.last).optional(),
  input: z.custom<z.ZodType>((v) => v instanceof z.ZodType, 'must be a zod schema'),
});

const retrySchema = z.strictObject({
  attempts: z.int().min(1).max(1000).optional(),
  backoff: z
    .strictObject({
      type: z.enum(['fixed', 'exponential']).optional(),
      delay: z.int().min(0).optional(),
      maxDelay: z.int().min(0).optional(),
      jitter: z.number().min(0).max(1).optional(),
    })
    .optional(),
});

const handlerSchema = z.strictObject({
  retry: retrySchema.optional(),
  timeoutMs: z.int().min(1).max(2_147_483_647).optional(),
  concurrency: z.int('must be a positive integer').min(1, 'must be a positive integer').optional(),
  rateLimit: z
    .strictObject({
      max: z.int('must be a positive integer').min(1, 'must be a positive integer'),
      durationMs: z
        .int('must be a positive integer')
        .min(1, 'must be a positive integer')
        .max(2_147_483_647, 'must be at most 2147483647'),
    })
    .optional(),
});

const name = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/, 'must be 1-100 letters, digits, "_", "." or "-"');

/** One year, the longest a start may be scheduled ahead too. */
const MAX_DELAY_MS = 365 * 24 * 3600 * 1000;

const stepSchema = handlerSchema
  .extend({
    compensateOnFailure: z.boolean().optional(),
    order: z.int().optional(),
    group: name.optional(),
    signal: z
      .strictObject({
        name,
        schema: z.custom<z.ZodType>((v) => v instanceof z.ZodType, 'must be a zod schema'),
        timeoutMs: z
          .union([
            z.int().min(1).max(2_147_483_647),
            z.custom<(input: unknown) => number | undefined>((v) => typeof v === 'function'),
          ])
          .optional(),
      })
      .optional(),
    child: name.optional(),
    delayMs: z.int().min(0).max(MAX_DELAY_MS).optional(),
  })
  .refine((o) => !(o.signal && o.child), 'a step waits for a signal or runs a child saga, not both')
  .refine((o) => !(o.signal && o.delayMs), 'a wait step cannot have a delayMs: it waits for its signal')
  .refine(
    (o) => !(o.child && o.compensateOnFailure),
    'a child step cannot compensate its own failure: a child saga that fails has compensated itself',
  );

/**
 * Turns the metadata of one `@Saga` class into a validated definition. Every problem is reported
 * with the class and method it concerns, at boot, before any saga can start.
 */
export function buildSagaDefinition(
  className: string,
  instance: object,
  options: SagaOptions,
  methods: DecoratedMethod[],
  defaults: HandlerDefaults,
): SagaDefinition {
  const parsed = sagaOptionsSchema.safeParse(options);
  if (!parsed.success) throw new SagaDefinitionError(className, `@Saga options: ${describe(parsed.error)}`);

  const stepMethods = inStepOrder(
    className,
    methods
      .filter((m) => m.step)
      .map((m) => {
        if (m.compensate) {
          throw new SagaDefinitionError(
            className,
            `method ${m.name} cannot be both a @Step and a @Compensate`,
          );
        }
        return { name: m.name, options: validate(className, m.name, stepSchema, m.step) };
      }),
  );
  const stages = stagesOf(
    className,
    stepMethods.map((m) => ({ name: m.name, group: m.options.group })),
  );
  const steps: StepDefinition[] = stepMethods.map(({ name, options: stepOptions }, index) => ({
    ...resolveHandler(name, stepOptions, defaults),
    name,
    index,
    ...(stepOptions.group ? { group: stepOptions.group } : {}),
    stage: stages[index],
    compensateOnFailure: stepOptions.compensateOnFailure ?? false,
    ...kindOf(stepOptions),
    ...(stepOptions.delayMs ? { delayMs: stepOptions.delayMs } : {}),
  }));
  if (steps.length === 0) throw new SagaDefinitionError(className, 'it declares no @Step method');
  const signals = steps.filter((s) => s.signal).map((s) => s.signal!.name);
  const twice = signals.find((signal, i) => signals.indexOf(signal) !== i);
  if (twice) throw new SagaDefinitionError(className, `two steps wait for signal "${twice}"`);

  for (const m of methods.filter((method) => method.compensate)) {
    const { step: stepName, options: compensateOptions } = m.compensate!;
    const step = steps.find((s) => s.name === stepName);
    if (!step) {
      throw new SagaDefinitionError(
        className,
        `@Compensate('${stepName}') on method ${m.name} names no step`,
      );
    }
    if (step.kind === 'child') {
      throw new SagaDefinitionError(
        className,
        `@Compensate('${stepName}') on method ${m.name}: a child step is undone by compensating its child saga`,
      );
    }
    if (step.compensation) {
      throw new SagaDefinitionError(
        className,
        `step ${stepName} has two compensations (${step.compensation.method} and ${m.name})`,
      );
    }
    step.compensation = resolveHandler(
      m.name,
      validate(className, m.name, handlerSchema, compensateOptions),
      defaults,
    );
  }

  return {
    name: options.name,
    version: options.version ?? 1,
    input: options.input,
    ...(parsed.data.deadlineMs ? { deadlineMs: parsed.data.deadlineMs } : {}),
    ...(options.concurrencyKey ? { concurrencyKey: keyOf(options.concurrencyKey) } : {}),
    priority: parsed.data.priority ?? SAGA_PRIORITY.default,
    className,
    instance,
    steps,
    schedules: buildSchedules(className, options.input, options.schedules),
  };
}

/** The key as the store keeps it: text, whatever the author's function returns. */
function keyOf(concurrencyKey: (input: never) => unknown): (input: unknown) => string {
  return (input) => String(concurrencyKey(input as never));
}

/** What the step does, from its options. */
function kindOf(options: StepOptions): Pick<StepDefinition, 'kind' | 'signal' | 'child'> {
  if (options.child) return { kind: 'child', child: options.child };
  if (!options.signal) return { kind: 'task' };
  const { name: signal, schema, timeoutMs } = options.signal;
  return {
    kind: 'wait',
    signal: {
      name: signal,
      schema,
      timeoutMs: typeof timeoutMs === 'function' ? (input) => timeoutMs(input as never) : () => timeoutMs,
    },
  };
}

/** The stage of each step: adjacent steps of one group share one; a group must not be split. */
function stagesOf(className: string, steps: { name: string; group?: string }[]): number[] {
  const stages: number[] = [];
  const closed = new Set<string>();
  steps.forEach((step, i) => {
    const previous = steps[i - 1];
    const joins = step.group !== undefined && previous?.group === step.group;
    if (!joins && previous?.group) closed.add(previous.group);
    if (!joins && step.group && closed.has(step.group)) {
      throw new SagaDefinitionError(
        className,
        `the steps of group "${step.group}" must be adjacent, and ${step.name} is not next to the others`,
      );
    }
    stages.push(i === 0 ? 0 : joins ? stages[i - 1] : stages[i - 1] + 1);
  });
  return stages;
}

/** Declaration order, unless every step says where it goes (each somewhere else). */
function inStepOrder<T extends { name: string; options: StepOptions }>(className: string, steps: T[]): T[] {
  const ordered = steps.filter((s) => s.options.order !== undefined);
  if (ordered.length === 0) return steps;
  if (ordered.length < steps.length) {
    const missing = steps.filter((s) => s.options.order === undefined).map((s) => s.name);
    throw new SagaDefinitionError(
      className,
      `some steps set an order and ${missing.join(', ')} do not: set it on every step or none`,
    );
  }
  const sorted = [...steps].sort((a, b) => a.options.order! - b.options.order!);
  const clash = sorted.find((s, i) => i > 0 && s.options.order === sorted[i - 1].options.order);
  if (clash) throw new SagaDefinitionError(className, `two steps have order ${clash.options.order}`);
  return sorted;
}

function resolveHandler(
  method: string,
  options: HandlerOptions,
  defaults: HandlerDefaults,
): HandlerDefinition {
  const { concurrency, rateLimit } = options;
  return {
    method,
    retry: resolveRetryPolicy(options.retry, defaults.retry),
    timeoutMs: options.timeoutMs ?? defaults.timeoutMs,
    ...(concurrency || rateLimit
      ? { limits: { ...(concurrency ? { concurrency } : {}), ...(rateLimit ? { rateLimit } : {}) } }
      : {}),
  };
}

function validate<T>(className: string, method: string, schema: z.ZodType<T>, value: unknown): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success)
    throw new SagaDefinitionError(className, `options of ${method}: ${describe(parsed.error)}`);
  return parsed.data;
}

function describe(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.join('.') || '(root)'} ${i.message}`).join('; ');
}
