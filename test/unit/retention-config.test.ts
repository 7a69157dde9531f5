import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config/app-config.js';
import { resolveSagaModuleOptions } from '../../src/saga/saga-module-options.js';

const DAY = 86_400_000;
const base = { databaseUrl: 'postgres://x/y', redisUrl: 'redis://x' };

describe('SAGA_RETENTION', () => {
  it('defaults to 30 days', () => {
    assert.equal(loadConfig({}).SAGA_RETENTION, 30 * DAY);
  });

  it('reads seconds, minutes, hours and days, and off', () => {
    const cases: [string, number | false][] = [
      ['45s', 45_000],
      ['90m', 90 * 60_000],
      ['12h', 12 * 3_600_000],
      ['7d', 7 * DAY],
      ['off', false],
    ];
    for (const [value, expected] of cases)
      assert.equal(loadConfig({ SAGA_RETENTION: value }).SAGA_RETENTION, expected);
  });

  it('stops the app on anything else, naming the variable', () => {
    for (const value of ['30', '30 d', '1.5h', '-1d', '30D', '0s', 'never', '2w', '99999999999d']) {
      assert.throws(
        () => loadConfig({ SAGA_RETENTION: value }),
        (error: unknown) => error instanceof ConfigError && /SAGA_RETENTION/.test(error.message),
        value,
      );
    }
  });
});

describe('SagaModule option retentionMs', () => {
  it('defaults to 30 days; false keeps finished sagas forever', () => {
    assert.equal(resolveSagaModuleOptions(base).retentionMs, 30 * DAY);
    assert.equal(resolveSagaModuleOptions({ ...base, retentionMs: false }).retentionMs, false);
    assert.equal(resolveSagaModuleOptions({ ...base, retentionMs: 1000 }).retentionMs, 1000);
  });

  it('refuses less than a second, fractions and non-numbers at boot, naming the option', () => {
    for (const value of [0, 999, 1500.5, Number.NaN, Infinity, '30d' as unknown as number]) {
      assert.throws(
        () => resolveSagaModuleOptions({ ...base, retentionMs: value }),
        /Invalid SagaModule option retentionMs/,
        String(value),
      );
    }
  });
});
