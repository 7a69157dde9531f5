import 'reflect-metadata';
import { Module, type LoggerService, type Type } from '@nestjs/common';
import { DiscoveryModule, NestFactory } from '@nestjs/core';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { z } from 'zod';
import { SagaExplorer } from '../../src/saga/definition/saga-explorer.js';
import { SagaMetadataAccessor } from '../../src/saga/definition/saga-metadata.accessor.js';
import { SagaRegistry } from '../../src/saga/definition/saga-registry.js';
import { Saga, Step } from '../../src/saga/index.js';
import { resolveSagaModuleOptions, SAGA_MODULE_OPTIONS } from '../../src/saga/saga-module-options.js';

@Saga({ name: 'shipment', input: z.object({}) })
class ShipmentSaga {
  @Step()
  pack() {}

  @Step()
  ship() {}
}

/** A newer version of shipment, registered beside the first one. */
@Saga({ name: 'shipment', version: 2, input: z.object({}) })
class ShipmentSagaV2 {
  @Step()
  pack() {}

  @Step()
  insure() {}

  @Step()
  ship() {}
}

/** Another class that says it is shipment@2. */
@Saga({ name: 'shipment', version: 2, input: z.object({}) })
class ShipmentSagaCopy {
  @Step()
  ship() {}
}

@Saga({ name: 'refund', version: 3, input: z.object({}) })
class RefundSaga {
  @Step()
  refund() {}
}

const nightly = { id: 'nightly', cron: '0 3 * * *', input: {} };

/** Declares schedule "nightly"; so does its version 2, and so does another saga. */
@Saga({ name: 'report', input: z.object({}), schedules: [nightly, { ...nightly, id: 'hourly' }] })
class ReportSaga {
  @Step()
  report() {}
}

@Saga({ name: 'report', version: 2, input: z.object({}), schedules: [{ ...nightly, cron: '0 4 * * *' }] })
class ReportSagaV2 {
  @Step()
  report() {}
}

@Saga({ name: 'cleanup', input: z.object({}), schedules: [nightly] })
class CleanupSaga {
  @Step()
  clean() {}
}

interface Entry {
  level: 'log' | 'warn' | 'error';
  context: unknown;
  message: unknown;
}

/** Keeps what Nest logs, with the level and context of each message. */
class RecordingLogger implements LoggerService {
  readonly entries: Entry[] = [];
  log(message: unknown, context?: unknown) {
    this.entries.push({ level: 'log', context, message });
  }
  warn(message: unknown, context?: unknown) {
    this.entries.push({ level: 'warn', context, message });
  }
  error(message: unknown, _trace?: unknown, context?: unknown) {
    this.entries.push({ level: 'error', context, message });
  }
}

/** What the explorer logs at module init when the application provides `sagas` (no I/O). */
async function explorerLogFor(sagas: Type[]): Promise<Omit<Entry, 'context'>[]> {
  return (await explore(sagas)).entries;
}

/** The explorer run at module init over `sagas`: what it logged, and the registry it filled. */
async function explore(
  sagas: Type[],
): Promise<{ entries: Omit<Entry, 'context'>[]; registry: SagaRegistry }> {
  @Module({
    imports: [DiscoveryModule],
    providers: [
      ...sagas,
      SagaMetadataAccessor,
      SagaRegistry,
      SagaExplorer,
      {
        provide: SAGA_MODULE_OPTIONS,
        useValue: resolveSagaModuleOptions({ databaseUrl: 'postgres://unused', redisUrl: 'redis://unused' }),
      },
    ],
  })
  class ExplorerTestModule {}

  const logger = new RecordingLogger();
  const context = await NestFactory.createApplicationContext(ExplorerTestModule, { logger });
  const registry = context.get(SagaRegistry);
  await context.close();
  const entries = logger.entries
    .filter((entry) => entry.context === 'SagaExplorer')
    .map(({ level, message }) => ({ level, message }));
  return { entries, registry };
}

describe('SagaExplorer: what it reports at boot', () => {
  it('logs one line naming every saga found, with its version and its steps in order', async () => {
    assert.deepEqual(await explorerLogFor([ShipmentSaga, RefundSaga]), [
      { level: 'log', message: 'Found 2 sagas: shipment@1 (pack → ship), refund@3 (refund)' },
    ]);
  });

  it('lists every version of a saga registered in several, and counts the saga once', async () => {
    assert.deepEqual(await explorerLogFor([ShipmentSagaV2, RefundSaga, ShipmentSaga]), [
      {
        level: 'log',
        message:
          'Found 2 sagas: shipment@1 (pack → ship), shipment@2 (pack → insure → ship), refund@3 (refund)',
      },
    ]);
  });

  it('stops the boot when two classes declare one name@version, naming both', async () => {
    await assert.rejects(explorerLogFor([ShipmentSaga, ShipmentSagaV2, ShipmentSagaCopy]), {
      name: 'SagaDefinitionError',
      message:
        'Invalid saga ShipmentSagaCopy: shipment@2 is already declared by ShipmentSagaV2: ' +
        'a new definition of a saga needs a higher version',
    });
  });

  it('says "1 saga" for one', async () => {
    assert.deepEqual(await explorerLogFor([RefundSaga]), [
      { level: 'log', message: 'Found 1 saga: refund@3 (refund)' },
    ]);
  });

  it('warns when it finds none, and says where sagas are registered', async () => {
    const entries = await explorerLogFor([]);
    assert.equal(entries.length, 1, JSON.stringify(entries));
    assert.equal(entries[0].level, 'warn');
    assert.match(
      String(entries[0].message),
      /^Found no saga: every POST \/sagas\/\{name\} will answer 404\./,
    );
    assert.match(String(entries[0].message), /SAGA_MODULES in src\/app\.module\.ts/);
  });
});

describe('SagaExplorer: cron schedules', () => {
  it("uses the schedules of each saga's highest version", async () => {
    const { registry } = await explore([ReportSaga, ReportSagaV2]);
    assert.deepEqual(
      registry.schedules().map(({ saga, schedule }) => [saga, schedule.id, schedule.cron.expression]),
      [['report', 'nightly', '0 4 * * *']],
    );
  });

  it('stops the boot when two sagas declare one schedule id, naming both', async () => {
    await assert.rejects(explore([ReportSaga, CleanupSaga]), {
      name: 'SagaDefinitionError',
      message: 'Invalid saga CleanupSaga: schedule id "nightly" is also used by saga "report"',
    });
  });
});
