import type { ZodType } from 'zod';
import type { RetryOptions } from './retry-policy.js';

export interface SagaOptions<Input extends ZodType = ZodType> {
  /** Unique name; it is the `{name}` in `POST /sagas/{name}`. */
  name: string;
  /** Version of the definition, stored with every saga started from it. @defaultValue 1 */
  version?: number;
  /** zod schema the input must satisfy; the parsed value is what steps receive. */
  input: Input;
}

export interface HandlerOptions {
  /** Retry policy for this handler; unset fields come from the module defaults. */
  retry?: RetryOptions;
  /** An attempt that runs longer fails with `StepTimeoutError` (retryable) and its signal aborts. @defaultValue 30_000 */
  timeoutMs?: number;
}

export interface StepOptions extends HandlerOptions {
  /**
   * Position of the step in the saga, for when declaration order will not do (steps inherited
   * from a base class, say). Either every step of a saga sets it, each to a different number, or
   * none does and steps run in declaration order. @defaultValue declaration order
   */
  order?: number;
  /**
   * Also run this step's compensation when the step itself finally fails, for steps whose
   * failed attempt may have left a partial effect behind. @defaultValue false
   */
  compensateOnFailure?: boolean;
}

export type CompensateOptions = HandlerOptions;
