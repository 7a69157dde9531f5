import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { Logger, type LoggerService, type LogLevel } from '@nestjs/common';
import { SagaEventType, type EventDraft } from '../../src/saga/machine/saga-events.js';
import { SagaEventLog } from '../../src/saga/observability/saga-event-log.js';

/** What the log received, as `level message`. */
function capture(levels: LogLevel[]): string[] {
  const lines: string[] = [];
  const write = (level: string) => (message: unknown) => lines.push(`${level} ${String(message)}`);
  const logger: LoggerService = {
    log: write('log'),
    warn: write('warn'),
    error: write('error'),
    debug: write('debug'),
    verbose: write('verbose'),
  };
  Logger.overrideLogger(logger);
  Logger.overrideLogger(levels);
  return lines;
}

const saga = { id: '01a23485-2d25-735a-b1c7-cd8b215e8a64', name: 'order' };
const events: EventDraft[] = [
  { type: SagaEventType.StepStarted, step: 'reserve', attempt: 1 },
  { type: SagaEventType.StepCompleted, step: 'reserve', attempt: 1 },
  { type: SagaEventType.CompensationStarted, step: 'reserve', attempt: 1 },
  { type: SagaEventType.SagaCompleted },
];

describe('SagaEventLog', () => {
  afterEach(() => Logger.overrideLogger(['log', 'error', 'warn', 'debug', 'verbose', 'fatal']));

  it('logs the routine of every step at debug, and nothing of it when debug is off', () => {
    const quiet = capture(['log', 'warn', 'error']);
    new SagaEventLog().committed(saga, events);
    assert.deepEqual(quiet, [`log order ${saga.id}: completed`]);

    const verbose = capture(['log', 'warn', 'error', 'debug']);
    new SagaEventLog().committed(saga, events);
    assert.deepEqual(verbose, [
      `debug order ${saga.id} reserve (attempt 1): step started`,
      `debug order ${saga.id} reserve (attempt 1): step completed`,
      `debug order ${saga.id} reserve (attempt 1): compensation started`,
      `log order ${saga.id}: completed`,
    ]);
  });
});
