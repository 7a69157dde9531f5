import { Injectable } from '@nestjs/common';
import type { SagaDefinition } from '../definition/saga-definition.interface.js';
import { SagaRegistry } from '../definition/saga-registry.js';
import { SagaEventLog } from '../observability/saga-event-log.js';
import { SagaTracing } from '../observability/saga-tracing.js';
import { InvalidInputError } from '../errors/invalid-input.error.js';
import { SagaConflictError } from '../errors/saga-conflict.error.js';
import { SagaNotFoundError } from '../errors/saga-not-found.error.js';
import { SagaVersionUnavailableError } from '../errors/saga-version-unavailable.error.js';
import { UnknownSagaError } from '../errors/unknown-saga.error.js';
import { UnknownSignalError } from '../errors/unknown-signal.error.js';
import { UnknownStepError } from '../errors/unknown-step.error.js';
import { ACTIVE_SAGA_STATUSES, SagaStatus } from '../saga-status.js';
import { decide } from '../machine/decide.js';
import { skipRefusal, unitToRetry } from '../machine/operator-actions.js';
import { SagaEventType, type EventDraft } from '../machine/saga-events.js';
import type { SagaSnapshot } from '../machine/saga-snapshot.js';
import type { SagaInput } from '../machine/transition.js';
import { SagaStore, type CreatedSaga, type SagaTiming, type StoreSql } from '../store/saga.store.js';
import { assertStorableJson } from '../store/storable-json.js';
import { SagaStreamBus } from '../streams/saga-stream-bus.js';
import { CancellationBus } from './cancellation-bus.js';
import { SagaDispatcher } from './saga-dispatcher.js';

/** What `POST /sagas/{id}/signals/{signal}` answers; `delivered` is false for a repeated Idempotency-Key. */
export interface SignalReceipt {
  id: string;
  signal: string;
  status: 'accepted';
  delivered: boolean;
}

export interface SagaSummary {
  id: string;
  name: string;
  status: SagaStatus;
}

/** Starts, cancels and retries sagas; what the HTTP API calls, and what application code may call too. */
@Injectable()
export class SagaService {
  constructor(
    private readonly registry: SagaRegistry,
    private readonly store: SagaStore,
    private readonly dispatcher: SagaDispatcher,
    private readonly cancellations: CancellationBus,
    private readonly eventLog: SagaEventLog,
    private readonly streams: SagaStreamBus,
    private readonly tracing: SagaTracing,
  ) {}

  /**
   * Validates `input` against the saga's schema, records the saga and sends its first steps on
   * their way to the queue (or schedules them, for a start later on).
   * With an `idempotencyKey` already used for this saga name, returns that saga (`created: false`)
   * when it was started with the same input (after validation), and throws SagaConflictError when
   * not: a key names one request, so another input under it is a client's mistake.
   */
  async start(
    name: string,
    input: unknown,
    options: { idempotencyKey?: string } & SagaTiming = {},
  ): Promise<CreatedSaga> {
    const def = this.definition(name);
    assertStorableJson(input, `input for saga "${name}"`);
    const parsed = def.input.safeParse(input);
    if (!parsed.success) throw InvalidInputError.fromZod(`Invalid input for saga "${name}"`, parsed.error);
    const { idempotencyKey, ...timing } = options;
    const { sameInput, ...saga } = await this.tracing.start(name, (traceContext) =>
      this.store.create(def, parsed.data, idempotencyKey, { ...timing, traceContext }),
    );
    if (!sameInput) {
      throw new SagaConflictError(
        `Idempotency key "${idempotencyKey}" was already used to start saga ${saga.id} ("${name}") with a different input`,
      );
    }
    if (saga.created) {
      this.eventLog.committed(saga, [{ type: SagaEventType.SagaStarted }]);
      this.dispatcher.dispatchCommitted(saga.units);
    }
    return saga;
  }

  /** Stops the saga going forward and compensates what it completed. */
  async cancel(id: string): Promise<SagaSummary> {
    const { summary } = await this.operate(
      id,
      [{ type: SagaEventType.CancelRequested }],
      async (saga, sql) => {
        if (!ACTIVE_SAGA_STATUSES.includes(saga.status)) {
          throw new SagaConflictError(`Saga ${id} is already ${saga.status}`);
        }
        await this.store.requestCancel(id, sql);
        return { saga: { ...saga, cancelRequested: true }, input: { kind: 'cancel' } };
      },
    );
    return summary;
  }

  /** Resumes a dead-lettered (`failed`) saga at the compensation that exhausted its retries. */
  async retry(id: string): Promise<SagaSummary> {
    const { summary } = await this.operate(id, [], async (saga) => {
      if (saga.status !== SagaStatus.Failed) {
        throw new SagaConflictError(`Saga ${id} is ${saga.status}; only a failed saga can be retried`);
      }
      return { saga, input: { kind: 'retry' } };
    });
    return summary;
  }

  /**
   * Runs a step's next attempt now instead of after its retry backoff (its compensation's, in a
   * compensating saga); in a `failed` saga, runs the step's failed compensation again with a fresh
   * attempt budget.
   */
  async retryStep(id: string, step: string): Promise<SagaSummary> {
    const { summary } = await this.operate(id, [], async (saga) => {
      const index = this.stepIndex(saga, step);
      if (!unitToRetry(saga, index)) {
        throw new SagaConflictError(
          `Step "${step}" of saga ${id} has nothing to retry: it does not wait out a retry backoff, and its compensation is not a dead letter`,
        );
      }
      return { saga, input: { kind: 'retryStep', step: index } };
    });
    return summary;
  }

  /**
   * Completes a step that has not completed with `output` (null by default) in place of running it,
   * and lets the saga go on. A skipped step is never compensated.
   */
  async skipStep(
    id: string,
    step: string,
    options: { output?: unknown; reason?: string } = {},
  ): Promise<SagaSummary> {
    const output = options.output ?? null;
    assertStorableJson(output, `output of step "${step}"`);
    const { summary } = await this.operate(id, [], async (saga) => {
      const index = this.stepIndex(saga, step);
      const refusal = skipRefusal(saga, index);
      if (refusal) throw new SagaConflictError(`Step "${step}" of saga ${id} cannot be skipped: ${refusal}`);
      return { saga, input: { kind: 'skipStep', step: index, output, reason: options.reason } };
    });
    return summary;
  }

  /**
   * Delivers a signal to the saga: kept in its inbox, taken by the step that waits for it now or
   * when it is reached. With an `idempotencyKey` already delivered to this saga, nothing happens
   * (`delivered: false`).
   */
  async signal(
    id: string,
    signal: string,
    payload: unknown,
    options: { idempotencyKey?: string } = {},
  ): Promise<SignalReceipt> {
    const { applied } = await this.operate(id, [], async (saga, sql) => {
      const step = this.startedOn(saga).steps.find((s) => s.signal?.name === signal);
      if (!step) throw new UnknownSignalError(id, saga.name, signal);
      assertStorableJson(payload, `payload of signal "${signal}"`);
      const parsed = step.signal!.schema.safeParse(payload);
      if (!parsed.success)
        throw InvalidInputError.fromZod(`Invalid payload for signal "${signal}"`, parsed.error);
      if (!(await this.store.receiveSignal(id, signal, options.idempotencyKey, parsed.data, sql)))
        return undefined;
      if (!ACTIVE_SAGA_STATUSES.includes(saga.status)) {
        throw new SagaConflictError(`Saga ${id} is already ${saga.status}; it takes no more signals`);
      }
      return { saga, input: { kind: 'signal', name: signal, payload: parsed.data } };
    });
    return { id, signal, status: 'accepted', delivered: applied };
  }

  /**
   * An operator's action, on the saga locked against every other writer: `check` refuses it (by
   * throwing), says there is nothing to do (undefined), or writes what it records itself
   * (`recorded`) and names the input the machine decides on.
   */
  private async operate(
    id: string,
    recorded: EventDraft[],
    check: (
      saga: SagaSnapshot,
      sql: StoreSql,
    ) => Promise<{ saga: SagaSnapshot; input: SagaInput } | undefined>,
  ): Promise<{ summary: SagaSummary; applied: boolean }> {
    let applied = false;
    const outcome = await this.store.withLockedSaga(id, async (locked, sql) => {
      const checked = await check(locked, sql);
      if (!checked) return undefined;
      applied = true;
      const { saga, input } = checked;
      const transition = decide(this.startedOn(saga), saga, input);
      // Nothing to change (a cancel of a saga that is compensating already): nothing to commit.
      return transition.units.length > 0 || transition.events.length > 0 || transition.status !== saga.status
        ? transition
        : undefined;
    });
    if (!outcome) throw new SagaNotFoundError(id);
    const { saga, transition, others } = outcome;
    if (applied) {
      this.eventLog.committed(saga, [...recorded, ...(transition?.events ?? [])]);
      this.streams.committed(id, others);
    }
    if (transition) {
      this.dispatcher.dispatchTransition(saga, transition, others);
      if (transition.abortRunning) this.cancellations.publishSoon(id);
      for (const child of transition.stopChildren) this.cancellations.publishSoon(child);
    }
    return { summary: { id: saga.id, name: saga.name, status: transition?.status ?? saga.status }, applied };
  }

  private stepIndex(saga: SagaSnapshot, step: string): number {
    const found = this.startedOn(saga).steps.find((s) => s.name === step);
    if (!found) throw new UnknownStepError(saga.id, saga.name, step);
    return found.index;
  }

  /** The definition a saga started on: it finishes on it, whatever versions were deployed since. */
  private startedOn(saga: SagaSnapshot): SagaDefinition {
    const def = this.registry.findVersion(saga.name, saga.version);
    if (!def) throw new SagaVersionUnavailableError(saga.id, saga.name, saga.version);
    return def;
  }

  private definition(name: string): SagaDefinition {
    const def = this.registry.find(name);
    if (!def) throw new UnknownSagaError(name);
    return def;
  }
}
