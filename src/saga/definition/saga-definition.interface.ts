import type { ZodType } from 'zod';
import type { RetryPolicy } from './retry-policy.js';

/** A step or compensation method, with its options resolved against the module defaults. */
export interface HandlerDefinition {
  method: string;
  retry: RetryPolicy;
  timeoutMs: number;
}

export interface StepDefinition extends HandlerDefinition {
  /** The step's name is its method name; it is how `ctx.result(name)` and the saga view refer to it. */
  name: string;
  index: number;
  compensateOnFailure: boolean;
  compensation?: HandlerDefinition;
}

export interface SagaDefinition {
  name: string;
  version: number;
  input: ZodType;
  className: string;
  instance: object;
  steps: StepDefinition[];
}
