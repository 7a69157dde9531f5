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
  /** The parallel group it belongs to, if any: adjacent steps of one group run at once. */
  group?: string;
  /** Its position in the run: steps of one parallel group share a stage, every other step has its own. */
  stage: number;
  compensateOnFailure: boolean;
  compensation?: HandlerDefinition;
}

export interface SagaDefinition {
  name: string;
  version: number;
  input: ZodType;
  /** A saga not finished this long after it started is cancelled with `DeadlineExceeded`. */
  deadlineMs?: number;
  className: string;
  instance: object;
  steps: StepDefinition[];
}
