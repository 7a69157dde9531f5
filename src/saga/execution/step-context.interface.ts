import type { LoggerService } from '@nestjs/common';

/** What a step or compensation handler receives. */
export interface StepContext<Input = unknown> {
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
  /** The output of an earlier step of this saga (undefined if it has not completed). */
  result<T = unknown>(step: string): T;
  /** Aborted when the attempt times out, the saga is cancelled, or the worker shuts down; pass it to I/O that accepts one. */
  signal: AbortSignal;
  logger: LoggerService;
}

/** What a compensation receives; `result(step)` gives the output of the step it undoes, if it completed. */
export interface CompensationContext<Input = unknown> extends StepContext<Input> {
  /**
   * The idempotency key the forward step was called with, so that a compensation can undo whatever
   * was done under it, even when the step failed without an output (`compensateOnFailure`).
   */
  stepIdempotencyKey: string;
}

/** What the handler of a wait step receives: the signal's payload, parsed by its schema. */
export interface SignalContext<Input = unknown, Payload = unknown> extends StepContext<Input> {
  payload: Payload;
}
