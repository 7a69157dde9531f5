import type { ZodType } from 'zod';
import type { RetryOptions } from './retry-policy.js';

export interface SagaOptions<Input extends ZodType = ZodType> {
  /** Unique name; it is the `{name}` in `POST /sagas/{name}`. */
  name: string;
  /** Version of the definition, stored with every saga started from it. @defaultValue 1 */
  version?: number;
  /** zod schema the input must satisfy; the parsed value is what steps receive. */
  input: Input;
  /**
   * A saga still going forward this long after it was started (or, when its start was scheduled,
   * after that start) is cancelled with `DeadlineExceeded` and compensates. A start may set its own
   * (`?deadlineMs=`). @defaultValue no deadline
   */
  deadlineMs?: number;
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
  /**
   * A parallel group: adjacent steps that name the same group run at once, and the step after them
   * starts when all of them have completed. When one finally fails, the others' signals are
   * aborted, their outcomes awaited, and every completed step is compensated in the reverse order
   * of completion. @defaultValue none: the step runs on its own
   */
  group?: string;
}

export type CompensateOptions = HandlerOptions;
