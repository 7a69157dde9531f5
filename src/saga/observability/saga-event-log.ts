import { Injectable, Logger } from '@nestjs/common';
import type { SagaError } from '../errors/saga-error.js';
import { SagaEventType, type EventDraft } from '../machine/saga-events.js';
import { SagaLogLine } from './saga-log-line.js';

type Level = 'debug' | 'log' | 'warn' | 'error';

/**
 * One log line per committed event that an operator wants to see without polling `/events`: at
 * `log` a saga's start, end, cancel and operator retry and each compensation done; at `warn` a
 * failed attempt (with its retry delay) and the start of compensating; at `error` a dead letter.
 * The routine (attempts starting, steps completing) is `debug`. Logged after the commit, so a line
 * never tells of a transition that did not happen. Each line carries the saga's id and name, and
 * the step and attempt it is about, as fields for a structured logger (LOG_FORMAT=json).
 */
@Injectable()
export class SagaEventLog {
  private readonly logger = new Logger('Saga');

  committed(saga: { id: string; name: string }, events: readonly EventDraft[]): void {
    for (const event of events) {
      const [level, what] = describe(event);
      if (!Logger.isLevelEnabled(level)) continue;
      const { step, attempt } = event;
      const where = step ? ` ${step}${attempt ? ` (attempt ${attempt})` : ''}` : '';
      this.logger[level](
        new SagaLogLine(`${saga.name} ${saga.id}${where}: ${what}`, saga.id, saga.name, step, attempt),
      );
    }
  }
}

function describe(event: EventDraft): [Level, string] {
  const data = event.data ?? {};
  const error = data.error as SagaError | undefined;
  const retry = typeof data.retryInMs === 'number' ? `, retrying in ${data.retryInMs} ms` : ', for good';
  switch (event.type) {
    // The routine of every step (two lines a step at thousands of sagas a second): `debug`, and
    // described with no more work than the lines above, which are constant for these events.
    case SagaEventType.StepStarted:
      return ['debug', 'step started'];
    case SagaEventType.StepCompleted:
      return ['debug', 'step completed'];
    case SagaEventType.CompensationStarted:
      return ['debug', 'compensation started'];
    case SagaEventType.SagaStarted:
      return ['log', 'started'];
    case SagaEventType.StepFailed:
      return ['warn', `step failed${retry}: ${text(error)}`];
    case SagaEventType.StepWaiting:
      return ['log', `waits for signal "${String(data.signal)}"`];
    case SagaEventType.SignalReceived:
      return [
        'log',
        `signal "${String(data.signal)}" received${data.taken ? '' : ' (kept; no step takes it now)'}`,
      ];
    case SagaEventType.ChildStarted:
      return ['log', `started child saga ${String(data.childId)}`];
    case SagaEventType.CompensationCompleted:
      return ['log', 'compensated'];
    case SagaEventType.CompensationFailed:
      return typeof data.retryInMs === 'number'
        ? ['warn', `compensation failed${retry}: ${text(error)}`]
        : ['error', `compensation failed for good: ${text(error)}`];
    case SagaEventType.CancelRequested:
      return ['log', 'cancel requested'];
    case SagaEventType.SagaCompensating:
      return [
        'warn',
        `compensating its completed steps, because: ${text(data.cause as SagaError | undefined)}`,
      ];
    case SagaEventType.SagaCompleted:
      return ['log', 'completed'];
    case SagaEventType.SagaCompensated:
      return ['log', 'ended compensated'];
    case SagaEventType.SagaFailed:
      return ['error', `ended failed (dead letter: an operator must retry it): ${text(error)}`];
    case SagaEventType.SagaRetried:
      return ['log', 'retried by an operator'];
    case SagaEventType.StepRetried:
      return ['log', `${data.unit === 'compensation' ? 'compensation' : 'step'} retried now by an operator`];
    case SagaEventType.StepSkipped:
      return ['warn', `skipped by an operator${data.reason ? `: ${String(data.reason)}` : ''}`];
  }
}

function text(error: SagaError | undefined): string {
  return error ? `${error.name}: ${error.message}` : 'no error recorded';
}
