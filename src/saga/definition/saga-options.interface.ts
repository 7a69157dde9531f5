import type { z, ZodType } from 'zod';
import type { RetryOptions } from './retry-policy.js';

export interface SagaOptions<Input extends ZodType = ZodType> {
  /** Unique name; it is the `{name}` in `POST /sagas/{name}`. */
  name: string;
  /**
   * Version of the definition, stored with every saga started from it, which finishes on it. Several
   * versions of one saga may be registered side by side (one class each); new starts use the highest.
   * @defaultValue 1
   */
  version?: number;
  /** zod schema the input must satisfy; the parsed value is what steps receive. */
  input: Input;
  /**
   * A saga still going forward this long after it was started (or, when its start was scheduled,
   * after that start) is cancelled with `DeadlineExceeded` and compensates. A start may set its own
   * (`?deadlineMs=`). @defaultValue no deadline
   */
  deadlineMs?: number;
  /**
   * One running saga per key: at most one saga of this name whose input gives the same key is past
   * `pending` at a time. The others wait `pending`, and go forward in start order, each when the one
   * before it ends (`completed`, `compensated` or `failed`). The queue is kept in Postgres, so it
   * holds across crashes and Redis restarts. @defaultValue none: sagas of this name run side by side
   */
  concurrencyKey?: (input: z.output<Input>) => string;
  /**
   * Priority of its starts that do not set one (`?priority=`): 1 (first) .. 10. With a backlog,
   * every unit of a saga of a lower number is taken before those of higher numbers; sagas of one
   * priority keep their order. A child saga takes its parent's priority. @defaultValue 5
   */
  priority?: number;
  /**
   * Starts a saga of this name at each fire time of each schedule, with the schedule's input, on
   * the worker processes (once per fire time, whatever the number of workers). @defaultValue none
   */
  schedules?: ScheduleOptions<z.input<Input>>[];
}

/** A cron schedule that starts sagas. */
export interface ScheduleOptions<Input = unknown> {
  /** Unique among the schedules of every saga of the application; it names the schedule in `GET /schedules`. */
  id: string;
  /** 5 fields (minute hour day-of-month month day-of-week), or 6 with seconds first. */
  cron: string;
  /** IANA time zone the fields are read in. @defaultValue 'UTC' */
  timezone?: string;
  /** The input of each saga it starts; checked against the saga's schema at boot. */
  input: Input;
}

/** How many attempts of a handler may start in a span of time, across every worker process. */
export interface RateLimitOptions {
  /** At most this many attempts start in any window of `durationMs`: a positive integer. */
  max: number;
  /** The window, in ms: a positive integer. */
  durationMs: number;
}

export interface HandlerOptions {
  /** Retry policy for this handler; unset fields come from the module defaults. */
  retry?: RetryOptions;
  /** An attempt that runs longer fails with `StepTimeout` (retryable) and its signal aborts. @defaultValue 30_000 */
  timeoutMs?: number;
  /**
   * At most this many attempts of the handler run at once, across every worker process together
   * (the saga name and method name make the limit: every version of the saga shares it). Units
   * beyond it wait, `pending`, without holding a worker or delaying other handlers. @defaultValue no limit
   */
  concurrency?: number;
  /**
   * At most `max` attempts of the handler start in any window of `durationMs`, across every worker
   * process together; starts are spread evenly over the window. Units beyond it wait, `pending`,
   * without holding a worker or delaying other handlers. @defaultValue no limit
   */
  rateLimit?: RateLimitOptions;
}

/** What a wait step waits for. */
export interface SignalOptions<Input = never, Payload = unknown> {
  /** The signal's name: the `{signal}` of `POST /sagas/{id}/signals/{signal}`. */
  name: string;
  /** zod schema the payload must satisfy (a 400 otherwise); the parsed payload is `ctx.payload`. */
  schema: ZodType<Payload>;
  /**
   * How long the step waits once it is reached, in ms, or a function of the saga's input that says
   * so; then it fails with `SignalTimeout` (not retried). @defaultValue no limit (the saga's deadline, if any)
   */
  timeoutMs?: number | ((input: Input) => number | undefined);
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
  /**
   * Makes it a wait step: it waits for this signal (which may have arrived before), then its
   * handler runs with the payload as `ctx.payload`, and what it returns is its output. A signal
   * kept waiting past `timeoutMs` fails the step with `SignalTimeout`. @defaultValue not a wait step
   */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the saga's input type is the author's
  signal?: SignalOptions<any, unknown>;
  /**
   * Makes it a child step: its handler returns the input of a saga of this name, which the engine
   * starts once (whatever the redeliveries) and waits for without holding a worker. The step
   * completes with the child's output, or fails with `ChildSagaFailed` when the child ends
   * `compensated` or `failed`. Compensating the step compensates the child saga. @defaultValue not a child step
   */
  child?: string;
  /**
   * A durable sleep before the step: it becomes due this long after the previous step (or parallel
   * group) completed, or after the saga started for a first step. The due time is kept in Postgres
   * and shown as the step's `dueAt`; no worker is held meanwhile. Not for a wait step (its signal
   * is what it waits for). At most one year. @defaultValue 0: due at once
   */
  delayMs?: number;
}

export type CompensateOptions = HandlerOptions;
