import { Cron } from 'croner';

/**
 * A cron expression in a time zone, as the engine reads it: 5 fields, or 6 with seconds first
 * (parsed by croner). Fire times are instants; a fire time is what names a fire.
 */
export class CronSchedule {
  private readonly cron: Cron;

  /** Throws when the expression is not valid cron. */
  constructor(
    readonly expression: string,
    readonly timezone: string,
  ) {
    this.cron = new Cron(expression, { paused: true, timezone, mode: '5-or-6-parts' });
  }

  /** The first fire time strictly after `time`; null when the expression never fires again. */
  nextAfter(time: Date): Date | null {
    return this.cron.nextRun(time);
  }

  /** The latest fire time at or before `time` (croner's search excludes its reference). */
  latestAtOrBefore(time: Date): Date | null {
    return this.cron.previousRuns(1, new Date(time.getTime() + 1))[0] ?? null;
  }
}
