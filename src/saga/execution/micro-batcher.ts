/**
 * Coalesces concurrent calls into batches, like a group commit: while `maxInFlight` batches are
 * running, new calls wait and then leave together in the next one. Idle, a call leaves at the next
 * turn of the event loop; under load, batches grow with the load, and the attempts of many sagas
 * share one Postgres statement or one Redis round trip. Calls with the same key never share a
 * batch, so a statement sees each saga once.
 */
export class MicroBatcher<In, Out> {
  private pending: { item: In; resolve: (out: Out) => void; reject: (error: unknown) => void }[] = [];
  private scheduled = false;
  private inFlight = 0;

  constructor(
    private readonly run: (items: In[]) => Promise<Out[]>,
    private readonly keyOf: (item: In) => string,
    private readonly options: { maxInFlight: number; maxBatch: number } = { maxInFlight: 4, maxBatch: 500 },
  ) {}

  push(item: In): Promise<Out> {
    return new Promise((resolve, reject) => {
      this.pending.push({ item, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled || this.pending.length === 0 || this.inFlight >= this.options.maxInFlight) return;
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
      if (batch.length < this.options.maxBatch && !keys.has(key)) {
        keys.add(key);
        batch.push(call);
      } else {
        later.push(call);
      }
    }
    this.pending = later;
    this.inFlight++;
    this.schedule();
    try {
      const results = await this.run(batch.map((call) => call.item));
      batch.forEach((call, i) => call.resolve(results[i]));
    } catch (error) {
      for (const call of batch) call.reject(error);
    } finally {
      this.inFlight--;
      this.schedule();
    }
  }
}
