import { performance } from 'node:perf_hooks';

/**
 * When each step's handler of each saga was called and when it returned, taken with
 * performance.now() inside the handlers, so that "step k returned → step k+1 called" measures
 * exactly the hand-off the engine (or the plain BullMQ program) adds between two steps.
 */
export class TransitionClock {
  /** Per saga: [called 0, returned 0, called 1, returned 1, …]; NaN until it happens. */
  private readonly marks = new Map<string, Float64Array>();
  private readonly lastStepListeners: (() => void)[] = [];

  constructor(readonly steps: number) {}

  /** Marks a handler's call and return around `body` (a no-op for the benchmarks). */
  run<T>(sagaKey: string, step: number, body: () => T): T {
    const marks = this.marksOf(sagaKey);
    // A redelivered attempt keeps the first call: the hand-off ended when the step first ran.
    if (Number.isNaN(marks[2 * step])) marks[2 * step] = performance.now();
    const result = body();
    const firstReturn = Number.isNaN(marks[2 * step + 1]);
    marks[2 * step + 1] = performance.now();
    if (step === this.steps - 1 && firstReturn) for (const listener of this.lastStepListeners) listener();
    return result;
  }

  /** Called when a saga's last handler first returns (the saga is then done but for recording it). */
  onLastStepReturned(listener: () => void): void {
    this.lastStepListeners.push(listener);
  }

  /** Forgets every saga seen so far (the warm-up). */
  reset(): void {
    this.marks.clear();
  }

  /** Milliseconds from each step's return to the next step's call, over every saga. */
  transitionDelays(): number[] {
    const delays: number[] = [];
    for (const marks of this.marks.values()) {
      for (let step = 0; step + 1 < this.steps; step++) {
        const delay = marks[2 * (step + 1)] - marks[2 * step + 1];
        if (!Number.isNaN(delay)) delays.push(delay);
      }
    }
    return delays;
  }

  private marksOf(sagaKey: string): Float64Array {
    let marks = this.marks.get(sagaKey);
    if (!marks) this.marks.set(sagaKey, (marks = new Float64Array(2 * this.steps).fill(NaN)));
    return marks;
  }
}
