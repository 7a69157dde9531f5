/**
 * Coalesces concurrent calls into batches: every call made while the event loop is busy goes
 * into the next batch, which runs as soon as the loop turns (setImmediate). Idle, a call waits
 * one turn; under load, the attempts of many sagas share one Postgres statement or one Redis
 * round trip. Calls with the same key never share a batch, so a statement sees each saga once.
 */
export class MicroBatcher<In, Out> {
  private pending: { item: In; resolve: (out: Out) => void; reject: (error: unknown) => void }[] = [];
  private scheduled = false;

  constructor(
    private readonly run: (items: In[]) => Promise<Out[]>,
    private readonly keyOf: (item: In) => string,
    private readonly maxBatch = 200,
  ) {}

  push(item: In): Promise<Out> {
    return new Promise((resolve, reject) => {
      this.pending.push({ item, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled || this.pending.length === 0) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      void this.flush();
    });
  }

  private async flush(): Promise<void> {
    const batch: typeof this.pending = [];
    const later: typeof this.pending = [];
    const keys = new Set<string>();
    for (const call of this.pending) {
      const key = this.keyOf(call.item);
      if (batch.length < this.maxBatch && !keys.has(key)) {
        keys.add(key);
        batch.push(call);
      } else {
        later.push(call);
      }
    }
    this.pending = later;
    this.schedule();
    try {
      const results = await this.run(batch.map((call) => call.item));
      batch.forEach((call, i) => call.resolve(results[i]));
    } catch (error) {
      for (const call of batch) call.reject(error);
    }
  }
}
