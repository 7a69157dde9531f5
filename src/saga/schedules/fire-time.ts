import type { CronSchedule } from './cron-schedule.js';

/** A fire time this overdue when a worker takes it was missed while no worker ran (not merely late). */
export const MISSED_AFTER_MS = 5000;

/**
 * The fire time a worker fires for a schedule due at `due`, at `now`, and the schedule's next due
 * time. A worker that is merely late fires each fire time in turn (the next one may be due at
 * once); fire times long overdue were missed while no worker ran, and only the latest of them fires.
 */
export function nextFire(cron: CronSchedule, due: Date, now: Date): { fireAt: Date; nextFireAt: Date } {
  const latest = cron.latestAtOrBefore(now);
  const missed = now.getTime() - due.getTime() > MISSED_AFTER_MS;
  const fireAt = missed && latest && latest > due ? latest : due;
  return { fireAt, nextFireAt: cron.nextAfter(fireAt)! };
}
