/**
 * Starts `total` items while keeping at most `limit` of them unfinished: a closed loop that keeps
 * the workers saturated without piling every saga into the queue first. (With all of them queued
 * up front, the delay between two steps of a saga would measure the length of that backlog, not
 * the hand-off from one step to the next.)
 */
export class InFlightWindow {
  private started = 0;
  private done = 0;
  private settle!: { resolve: () => void; reject: (error: Error) => void };
  private readonly finishedAll = new Promise<void>((resolve, reject) => (this.settle = { resolve, reject }));

  constructor(
    private readonly total: number,
    private readonly limit: number,
    private readonly startOne: (index: number) => Promise<unknown>,
  ) {}

  /** Resolves once `finished()` has been called `total` times; rejects if a start fails. */
  run(): Promise<void> {
    this.pump();
    return this.finishedAll;
  }

  /** One item reached its end: its slot goes to the next item. */
  finished(): void {
    this.done++;
    if (this.done === this.total) this.settle.resolve();
    else this.pump();
  }

  get finishedCount(): number {
    return this.done;
  }

  private pump(): void {
    while (this.started < this.total && this.started - this.done < this.limit) {
      this.startOne(this.started++).catch((error: Error) => this.settle.reject(error));
    }
  }
}
