import { performance } from 'node:perf_hooks';

/**
 * When each handler of each saga was called and when it returned, taken with performance.now()
 * inside the handlers, so that "step k returned → step k+1 called" measures exactly the hand-off
 * the engine (or the plain BullMQ program) adds between two steps.
 */
export class TransitionClock {
  /**
   * Per saga: [called 0, returned 0, called 1, returned 1, …, handlers returned so far]; NaN until
   * it happens.
   */
  private readonly marks = new Map<string, Float64Array>();
  private readonly lastStepListeners: (() => void)[] = [];
  /** Calls of a handler already called for that saga: redeliveries that ran it again (at least once). */
  repeatedCalls = 0;
  /** Which handler's return hands over to which handler's call: the timed hand-offs. */
  private readonly handoffs: readonly (readonly [number, number])[];

  /**
   * `steps` handlers per saga, numbered by the caller of run(); `handoffs` are the pairs
   * (returned, called) that are timed, by default each handler to the next one.
   */
  constructor(
    readonly steps: number,
    handoffs?: readonly (readonly [number, number])[],
  ) {
    this.handoffs = handoffs ?? Array.from({ length: steps - 1 }, (_, step) => [step, step + 1] as const);
  }

  /** Marks a handler's call and return around `body` (a no-op for the benchmarks). */
  run<T>(sagaKey: string, step: number, body: () => T): T {
    const marks = this.marksOf(sagaKey);
    // A redelivered attempt keeps the first call: the hand-off ended when the step first ran.
    if (Number.isNaN(marks[2 * step])) marks[2 * step] = performance.now();
    else this.repeatedCalls++;
    const result = body();
    const firstReturn = Number.isNaN(marks[2 * step + 1]);
    marks[2 * step + 1] = performance.now();
    if (firstReturn) {
      const returned = (marks[2 * this.steps] = (marks[2 * this.steps] || 0) + 1);
      if (returned === this.steps) for (const listener of this.lastStepListeners) listener();
    }
    return result;
  }

  /** Called when every handler of a saga has first returned (the saga is then done but for recording it). */
  onLastStepReturned(listener: () => void): void {
    this.lastStepListeners.push(listener);
  }

  /** Forgets every saga seen so far (the warm-up). */
  reset(): void {
    this.marks.clear();
    this.repeatedCalls = 0;
  }

  /** Milliseconds from each timed hand-off's return to its next handler's call, over every saga. */
  transitionDelays(): number[] {
    const delays: number[] = [];
    for (const marks of this.marks.values()) {
      for (const [returned, called] of this.handoffs) {
        const delay = marks[2 * called] - marks[2 * returned + 1];
        if (!Number.isNaN(delay)) delays.push(delay);
      }
    }
    return delays;
  }

  /**
   * Per saga, milliseconds from its first handler's call to its last handler's call: for handlers
   * that run at once (a parallel group), how far apart they started.
   */
  callSpreads(): number[] {
    const spreads: number[] = [];
    for (const marks of this.marks.values()) {
      let first = Infinity;
      let last = -Infinity;
      for (let step = 0; step < this.steps; step++) {
        first = Math.min(first, marks[2 * step]);
        last = Math.max(last, marks[2 * step]);
      }
      if (!Number.isNaN(last - first)) spreads.push(last - first);
    }
    return spreads;
  }

  private marksOf(sagaKey: string): Float64Array {
    let marks = this.marks.get(sagaKey);
    if (!marks) this.marks.set(sagaKey, (marks = new Float64Array(2 * this.steps + 1).fill(NaN)));
    return marks;
  }
}
