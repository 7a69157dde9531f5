import { Injectable, Logger } from '@nestjs/common';
import type { SagaDefinition } from '../definition/saga-definition.interface.js';
import { SagaRegistry } from '../definition/saga-registry.js';
import { SagaEventLog } from '../observability/saga-event-log.js';
import { InvalidInputError } from '../errors/invalid-input.error.js';
import { SagaConflictError } from '../errors/saga-conflict.error.js';
import { SagaNotFoundError } from '../errors/saga-not-found.error.js';
import { UnknownSagaError } from '../errors/unknown-saga.error.js';
import { ACTIVE_SAGA_STATUSES, SagaStatus } from '../saga-status.js';
import { SagaStore, type CreatedSaga, type StoreSql } from '../store/saga.store.js';
import { assertStorableJson } from '../store/storable-json.js';
import { CancellationBus } from './cancellation-bus.js';
import { SagaDispatcher } from './saga-dispatcher.js';
import { cancelNow, retryFailed } from './saga-state-machine.js';
import {
  SagaEventType,
  type EventDraft,
  type SagaSnapshot,
  type Transition,
} from './transition.interface.js';

export interface SagaSummary {
  id: string;
  name: string;
  status: SagaStatus;
}

/** Starts, cancels and retries sagas; what the HTTP API calls, and what application code may call too. */
@Injectable()
export class SagaService {
  private readonly logger = new Logger('SagaService');

  constructor(
    private readonly registry: SagaRegistry,
    private readonly store: SagaStore,
    private readonly dispatcher: SagaDispatcher,
    private readonly cancellations: CancellationBus,
    private readonly eventLog: SagaEventLog,
  ) {}

  /**
   * Validates `input` against the saga's schema, records the saga and sends its first step on its
   * way to the queue.
   * With an `idempotencyKey` already used for this saga name, returns that saga (`created: false`)
   * when it was started with the same input (after validation), and throws SagaConflictError when
   * not: a key names one request, so another input under it is a client's mistake.
   */
  async start(name: string, input: unknown, options: { idempotencyKey?: string } = {}): Promise<CreatedSaga> {
    const def = this.definition(name);
    assertStorableJson(input, `input for saga "${name}"`);
    const parsed = def.input.safeParse(input);
    if (!parsed.success) throw InvalidInputError.fromZod(`Invalid input for saga "${name}"`, parsed.error);
    const { sameInput, ...saga } = await this.store.create(def, parsed.data, options.idempotencyKey);
    if (!sameInput) {
      throw new SagaConflictError(
        `Idempotency key "${options.idempotencyKey}" was already used to start saga ${saga.id} ("${name}") with a different input`,
      );
    }
    if (saga.created) {
      this.eventLog.committed(saga, [{ type: SagaEventType.SagaStarted }]);
      this.dispatcher.dispatchCommitted([{ sagaId: saga.id, seq: 1, delayMs: 0, claimed: false }]);
    }
    return saga;
  }

  /** Stops the saga before its next step and compensates what it completed. */
  async cancel(id: string): Promise<SagaSummary> {
    let stepInFlight = false;
    const requested: EventDraft = { type: SagaEventType.CancelRequested };
    const summary = await this.operate(id, [requested], async (saga, def, sql) => {
      if (!ACTIVE_SAGA_STATUSES.includes(saga.status)) {
        throw new SagaConflictError(`Saga ${id} is already ${saga.status}`);
      }
      await this.store.requestCancel(id, sql);
      if (saga.phase !== 'step') return undefined;
      // With a step in flight, its outcome is recorded first and the worker then compensates.
      stepInFlight = saga.running;
      return stepInFlight ? undefined : cancelNow(def, { ...saga, cancelRequested: true });
    });
    if (stepInFlight) {
      // Committed; now ask the worker running the step to abort its signal.
      await this.cancellations
        .publish(id)
        .catch((error: Error) => this.logger.warn(`saga ${id}: cancel not signalled (${error.message})`));
    }
    return summary;
  }

  /** Resumes a dead-lettered (`failed`) saga at the compensation that exhausted its retries. */
  async retry(id: string): Promise<SagaSummary> {
    return this.operate(id, [], async (saga, def) => {
      if (saga.status !== SagaStatus.Failed) {
        throw new SagaConflictError(`Saga ${id} is ${saga.status}; only a failed saga can be retried`);
      }
      return retryFailed(def, saga);
    });
  }

  /** Commits what `decide` returns, along with `recorded`: events that `decide` wrote itself. */
  private async operate(
    id: string,
    recorded: EventDraft[],
    decide: (saga: SagaSnapshot, def: SagaDefinition, sql: StoreSql) => Promise<Transition | undefined>,
  ): Promise<SagaSummary> {
    const outcome = await this.store.withLockedSaga(id, (saga, sql) =>
      decide(saga, this.definition(saga.name), sql),
    );
    if (!outcome) throw new SagaNotFoundError(id);
    const { saga, transition } = outcome;
    this.eventLog.committed(saga, [...recorded, ...(transition?.events ?? [])]);
    if (transition) this.dispatcher.dispatchCommitted(SagaDispatcher.nextUnits(saga, transition));
    return { id: saga.id, name: saga.name, status: transition?.status ?? saga.status };
  }

  private definition(name: string): SagaDefinition {
    const def = this.registry.find(name);
    if (!def) throw new UnknownSagaError(name);
    return def;
  }
}
