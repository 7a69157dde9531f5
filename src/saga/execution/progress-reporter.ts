import { InvalidProgressError } from '../errors/invalid-progress.error.js';
import type { InvalidInputError } from '../errors/invalid-input.error.js';
import { assertStorableJson } from '../store/storable-json.js';

/** The largest progress object kept, as JSON: progress is a status line, not a place for data. */
export const PROGRESS_MAX_BYTES = 2048;
/** A handler that reports in a tight loop writes at most this often; the last value is always written. */
export const PROGRESS_INTERVAL_MS = 250;

/**
 * What one attempt reports with `ctx.progress()`: checked at once (a bad value throws to the
 * handler), then written in the background, one write at a time and at most every
 * PROGRESS_INTERVAL_MS, so that the latest value wins. `flush` writes what is left before the
 * attempt's outcome is recorded; reports after that are dropped.
 */
export class ProgressReporter {
  private pending?: { value: unknown };
  private timer?: NodeJS.Timeout;
  private inFlight?: Promise<void>;
  private lastWriteAt = -Infinity;
  private closed = false;

  constructor(
    private readonly write: (progress: unknown) => Promise<void>,
    private readonly onWriteError: (error: Error) => void,
  ) {}

  report(value: unknown): void {
    const progress = toProgress(value);
    if (this.closed) return;
    this.pending = { value: progress };
    if (!this.timer && !this.inFlight) this.schedule();
  }

  async flush(): Promise<void> {
    this.closed = true;
    while (this.inFlight || this.pending) {
      clearTimeout(this.timer);
      this.timer = undefined;
      if (!this.inFlight) this.writePending();
      await this.inFlight;
    }
  }

  private schedule(): void {
    const wait = this.lastWriteAt + PROGRESS_INTERVAL_MS - performance.now();
    if (wait <= 0) return this.writePending();
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.writePending();
    }, wait);
  }

  private writePending(): void {
    const { value } = this.pending!;
    this.pending = undefined;
    this.lastWriteAt = performance.now();
    this.inFlight = this.write(value)
      .catch((error: Error) => this.onWriteError(error))
      .finally(() => {
        this.inFlight = undefined;
        if (this.pending && !this.timer && !this.closed) this.schedule();
      });
  }
}

/** A number 0..100, or a plain object that is small and storable as JSON. */
function toProgress(value: unknown): unknown {
  if (typeof value === 'number') {
    if (Number.isFinite(value) && value >= 0 && value <= 100) return value;
    throw new InvalidProgressError(`a number must be between 0 and 100, got ${value}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidProgressError('expects a number 0..100 or a plain object');
  }
  let json: string;
  try {
    json = JSON.stringify(value);
  } catch (error) {
    throw new InvalidProgressError(`the object cannot be written as JSON: ${(error as Error).message}`);
  }
  if (Buffer.byteLength(json) > PROGRESS_MAX_BYTES) {
    throw new InvalidProgressError(`the object is over ${PROGRESS_MAX_BYTES} bytes as JSON`);
  }
  const progress: unknown = JSON.parse(json);
  // What JSON makes of it (a Date's toJSON gives a string, say) must still be an object.
  if (typeof progress !== 'object' || progress === null || Array.isArray(progress)) {
    throw new InvalidProgressError('expects a number 0..100 or a plain object');
  }
  try {
    assertStorableJson(progress, 'progress');
  } catch (error) {
    const [issue] = (error as InvalidInputError).issues;
    throw new InvalidProgressError(`${issue.path} ${issue.message}`);
  }
  return progress;
}
