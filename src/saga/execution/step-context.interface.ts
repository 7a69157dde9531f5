import type { LoggerService } from '@nestjs/common';

/** What a step or compensation handler receives. Give the saga class (`Saga`) to type `result()`. */
export interface StepContext<Input = unknown, Saga = unknown> {
  sagaId: string;
  sagaName: string;
  /** The saga's input, as parsed by its zod schema. */
  input: Input;
  /** 1 for the first attempt of this handler, 2 for the first retry, and so on. */
  attempt: number;
  /**
   * The same for every attempt of this handler in this saga: pass it to the systems you call so
   * that a repeated call (a retry, or a redelivery after a crash) has its effect only once.
   */
  idempotencyKey: string;
  /**
   * The output of an earlier step of this saga, or undefined if it has not completed. With the saga
   * class given (`StepContext<Input, MySaga>`), the step name is checked and the output is typed
   * from the step's method.
   */
  result<Step extends StepName<Saga>>(step: Step): StepOutput<Saga, Step> | undefined;
  /**
   * The output of an earlier step, of a type you name: for a child step (its output is its child
   * saga's, not what its method returns) or a context without the saga class.
   */
  result<T>(step: StepName<Saga>): T;
  /** Aborted when the attempt times out, the saga is cancelled, or the worker shuts down; pass it to I/O that accepts one. */
  signal: AbortSignal;
  logger: LoggerService;
  /**
   * Reports how far the attempt got: a number 0..100 or a small plain object (at most 2 KiB as
   * JSON), shown as the step's (or compensation's) `progress` in the saga view and kept after it
   * ends. Frequent reports are coalesced (at most one write every 250 ms; the last value is always
   * kept). A bad value throws InvalidProgressError (not retryable) to the handler.
   */
  progress(value: number | Record<string, unknown>): void;
}

/** What a compensation receives; `result(step)` gives the output of the step it undoes, if it completed. */
export interface CompensationContext<Input = unknown, Saga = unknown> extends StepContext<Input, Saga> {
  /**
   * The idempotency key the forward step was called with, so that a compensation can undo whatever
   * was done under it, even when the step failed without an output (`compensateOnFailure`).
   */
  stepIdempotencyKey: string;
}

/** What the handler of a wait step receives: the signal's payload, parsed by its schema. */
export interface SignalContext<Input = unknown, Payload = unknown, Saga = unknown> extends StepContext<
  Input,
  Saga
> {
  payload: Payload;
}

/**
 * A step name `ctx.result()` takes: any public member of the saga class, or any string without one.
 * Not only its step methods: telling them apart needs every method's type, and a step whose return
 * type is inferred from `ctx.result()` would then depend on itself (TS7023).
 */
export type StepName<Saga> = unknown extends Saga ? string : Extract<keyof Saga, string>;

/**
 * The output of step `Step` of saga class `Saga`, as `ctx.result()` gives it: what its method
 * returns, awaited, as it comes back from JSON (a `Date` as its ISO string). A compensation's
 * name gives `undefined`, as at run time; so does a step that returns nothing.
 */
export type StepOutput<Saga, Step extends StepName<Saga>> = unknown extends Saga
  ? unknown
  : Saga[Step & keyof Saga] extends (ctx: infer Context, ...rest: never[]) => infer Output
    ? Context extends { stepIdempotencyKey: string }
      ? undefined
      : Jsonified<Exclude<Awaited<Output>, null | undefined | void>>
    : undefined;

/** A value after `JSON.parse(JSON.stringify(value))`, where that changes its type. */
type Jsonified<T> = T extends { toJSON(): infer Json }
  ? Json
  : T extends object
    ? { [Key in keyof T]: Jsonified<T[Key]> }
    : T;
