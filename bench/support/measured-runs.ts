import { InFlightWindow } from './in-flight-window.js';
import type { TransitionClock } from './transition-clock.js';

/**
 * A scenario's two closed-loop runs: a warm-up, which no figure counts, then the measured run. The
 * same for the engine and the plain BullMQ program, so that both are measured warm.
 */
export class MeasuredRuns {
  private window?: InFlightWindow;
  private ticker?: NodeJS.Timeout;

  constructor(
    private readonly clock: TransitionClock,
    private readonly options: { sagas: number; warmupSagas: number; inFlight: number },
    private readonly startOne: () => Promise<unknown>,
    private readonly onProgress: (done: number) => void,
  ) {
    clock.onLastStepReturned(() => this.window?.finished());
  }

  /** Runs the warm-up sagas until `settled` says they are done, then forgets their timings. */
  async warmUp(settled: () => Promise<unknown>): Promise<void> {
    await this.run(this.options.warmupSagas);
    await settled();
    this.clock.reset();
  }

  /** Runs the measured sagas, reporting progress, until the last one's last handler has returned. */
  async measure(): Promise<void> {
    this.ticker = setInterval(() => this.onProgress(this.window?.finishedCount ?? 0), 200);
    await this.run(this.options.sagas);
  }

  stop(): void {
    clearInterval(this.ticker);
    this.onProgress(this.options.sagas);
  }

  private run(total: number): Promise<void> {
    this.window = new InFlightWindow(total, this.options.inFlight, this.startOne);
    return this.window.run();
  }
}
