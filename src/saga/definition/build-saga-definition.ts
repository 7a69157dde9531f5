import { z } from 'zod';
import { SagaDefinitionError } from '../errors/saga-definition.error.js';
import type { CompensateMetadata } from '../decorators/compensate.decorator.js';
import type { HandlerDefinition, SagaDefinition, StepDefinition } from './saga-definition.interface.js';
import type { HandlerOptions, SagaOptions, StepOptions } from './saga-options.interface.js';
import { resolveRetryPolicy, type RetryPolicy } from './retry-policy.js';

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
});

const stepSchema = handlerSchema.extend({ compensateOnFailure: z.boolean().optional() });

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

  const steps: StepDefinition[] = methods
    .filter((m) => m.step)
    .map((m, index) => {
      if (m.compensate) {
        throw new SagaDefinitionError(className, `method ${m.name} cannot be both a @Step and a @Compensate`);
      }
      const stepOptions = validate(className, m.name, stepSchema, m.step);
      return {
        ...resolveHandler(m.name, stepOptions, defaults),
        name: m.name,
        index,
        compensateOnFailure: stepOptions.compensateOnFailure ?? false,
      };
    });
  if (steps.length === 0) throw new SagaDefinitionError(className, 'it declares no @Step method');

  for (const m of methods.filter((method) => method.compensate)) {
    const { step: stepName, options: compensateOptions } = m.compensate!;
    const step = steps.find((s) => s.name === stepName);
    if (!step) {
      throw new SagaDefinitionError(
        className,
        `@Compensate('${stepName}') on method ${m.name} names no step`,
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
    className,
    instance,
    steps,
  };
}

function resolveHandler(
  method: string,
  options: HandlerOptions,
  defaults: HandlerDefaults,
): HandlerDefinition {
  return {
    method,
    retry: resolveRetryPolicy(options.retry, defaults.retry),
    timeoutMs: options.timeoutMs ?? defaults.timeoutMs,
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
