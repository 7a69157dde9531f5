import { z } from 'zod';
import { SagaDefinitionError } from '../errors/saga-definition.error.js';
import { CronSchedule } from '../schedules/cron-schedule.js';
import { isStorableText } from '../store/storable-json.js';
import type { ScheduleDefinition } from './saga-definition.interface.js';

const scheduleSchema = z.strictObject({
  id: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/, 'must be 1-100 letters, digits, "_", "." or "-"'),
  cron: z.string(),
  timezone: z.string().optional(),
  input: z.unknown(),
});

/**
 * The `schedules` of one `@Saga`, validated at boot: each names a valid cron expression, a time
 * zone the runtime knows, an input the saga's schema accepts and an id no other schedule of the
 * saga has (the explorer checks ids across sagas).
 */
export function buildSchedules(
  className: string,
  input: z.ZodType,
  schedules: unknown,
): ScheduleDefinition[] {
  if (schedules === undefined) return [];
  if (!Array.isArray(schedules)) throw new SagaDefinitionError(className, '@Saga schedules must be an array');
  const built = schedules.map((options: unknown, i) => {
    const parsed = scheduleSchema.safeParse(options);
    if (!parsed.success) {
      const problem = parsed.error.issues.map((x) => `${x.path.join('.') || '(root)'} ${x.message}`);
      throw new SagaDefinitionError(className, `schedule ${i}: ${problem.join('; ')}`);
    }
    const { id, cron, timezone = 'UTC' } = parsed.data;
    const fail = (problem: string) => new SagaDefinitionError(className, `schedule "${id}": ${problem}`);
    if (!isKnownTimezone(timezone)) throw fail(`unknown time zone "${timezone}"`);
    let schedule: CronSchedule;
    try {
      schedule = new CronSchedule(cron, timezone);
    } catch (error) {
      throw fail(`invalid cron "${cron}": ${(error as Error).message}`);
    }
    if (!schedule.nextAfter(new Date())) throw fail(`cron "${cron}" never fires`);
    // Kept as JSON and started from it at each fire: what is checked is what JSON makes of it.
    const stored = asJson(parsed.data.input);
    if (stored === undefined) throw fail('input must be storable JSON');
    const inputCheck = input.safeParse(stored);
    if (!inputCheck.success) {
      const issues = inputCheck.error.issues.map((x) => `${x.path.join('.') || '(root)'} ${x.message}`);
      throw fail(`input does not match the saga's schema: ${issues.join('; ')}`);
    }
    return { id, cron: schedule, input: stored };
  });
  const ids = built.map((s) => s.id);
  const twice = ids.find((id, i) => ids.indexOf(id) !== i);
  if (twice) throw new SagaDefinitionError(className, `two schedules have id "${twice}"`);
  return built;
}

function isKnownTimezone(timezone: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: timezone });
    return true;
  } catch {
    return false;
  }
}

/** The value as JSON gives it back; undefined when it cannot be stored as JSON. */
function asJson(value: unknown): unknown {
  try {
    const json = JSON.stringify(value);
    return json !== undefined && isStorableText(json) ? (JSON.parse(json) as unknown) : undefined;
  } catch {
    return undefined;
  }
}
