/** A unit that kept time from moving: it ran, or was due, when `skipTime` wanted to move on. */
export interface BusyUnit {
  sagaId: string;
  /** The saga's name. */
  saga: string;
  /** The step's name (the saga's own timer: `saga`). */
  unit: string;
  status: string;
}

/** `skipTime` found work running or due for longer than the kit waits: time only moves while nothing runs. */
export class TimeSkipTimeoutError extends Error {
  constructor(
    readonly busy: BusyUnit[],
    timeoutMs: number,
  ) {
    const shown = busy
      .slice(0, 5)
      .map(
        (u) => `${u.unit} of saga ${u.sagaId} (${u.saga}) is ${u.status === 'running' ? 'running' : 'due'}`,
      );
    super(
      `skipTime: still busy after ${timeoutMs} ms, and time only moves while nothing runs: ${shown.join('; ')}` +
        (busy.length > shown.length ? `; and ${busy.length - shown.length} more` : ''),
    );
    this.name = 'TimeSkipTimeoutError';
  }
}
