import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CronSchedule } from '../../src/saga/schedules/cron-schedule.js';
import { MISSED_AFTER_MS, nextFire } from '../../src/saga/schedules/fire-time.js';

const at = (iso: string) => new Date(`2026-03-01T${iso}Z`);
const iso = (fire: { fireAt: Date; nextFireAt: Date }) => [
  fire.fireAt.toISOString().slice(11, 23),
  fire.nextFireAt.toISOString().slice(11, 23),
];

describe('nextFire: which fire time a worker fires', () => {
  const everySecond = new CronSchedule('* * * * * *', 'UTC');

  it('on time: the due fire time, and the next one after it', () => {
    assert.deepEqual(iso(nextFire(everySecond, at('12:00:05.000'), at('12:00:05.004'))), [
      '12:00:05.000',
      '12:00:06.000',
    ]);
  });

  it('late: still the due fire time, then the next one, due at once; none is skipped', () => {
    const late = nextFire(everySecond, at('12:00:05.000'), at('12:00:07.300'));
    assert.deepEqual(iso(late), ['12:00:05.000', '12:00:06.000']);
    assert.deepEqual(iso(nextFire(everySecond, late.nextFireAt, at('12:00:07.310'))), [
      '12:00:06.000',
      '12:00:07.000',
    ]);
  });

  it(`more than ${MISSED_AFTER_MS} ms overdue (no worker ran): only the latest missed fire time, then the next one ahead`, () => {
    assert.deepEqual(iso(nextFire(everySecond, at('12:00:05.000'), at('12:00:30.400'))), [
      '12:00:30.000',
      '12:00:31.000',
    ]);
    const nightly = new CronSchedule('0 3 * * *', 'Europe/Paris');
    const fire = nextFire(nightly, new Date('2026-02-20T02:00:00Z'), new Date('2026-03-01T12:00:00Z'));
    assert.deepEqual(
      [fire.fireAt.toISOString(), fire.nextFireAt.toISOString()],
      ['2026-03-01T02:00:00.000Z', '2026-03-02T02:00:00.000Z'],
    );
  });
});
