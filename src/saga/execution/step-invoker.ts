import { Injectable } from '@nestjs/common';
import type { SagaDefinition } from '../definition/saga-definition.interface.js';
import { toSagaError } from '../errors/saga-error.js';
import { AttemptLogger } from '../observability/attempt-logger.js';
import { assertStorableJson } from '../store/storable-json.js';
import { UnitProgressStore } from '../store/unit-progress.store.js';
import { ProgressReporter } from './progress-reporter.js';
import { SagaCancelledError } from '../errors/saga-cancelled.error.js';
import { StepTimeoutError } from '../errors/step-timeout.error.js';
import type { CompensationContext, StepContext } from './step-context.interface.js';
import { UnitKind, type SagaSnapshot, type UnitSnapshot } from '../machine/saga-snapshot.js';
import type { Outcome } from '../machine/transition.js';

interface RunningAttempt {
  sagaId: string;
  compensating: boolean;
  /** Aborts the handler's signal: a request the handler may honour. */
  abort(reason: Error): void;
  /** Ends the attempt now with `reason`, whatever the handler does (timeout, shutdown). */
  expire(reason: Error): void;
}

/** Calls the handler of a claimed unit and turns whatever happens into an outcome; never throws. */
@Injectable()
export class StepInvoker {
  constructor(private readonly progressStore: UnitProgressStore) {}

  /** Attempts in flight in this process, so that shutdown and cancels can reach them. */
  private readonly running = new Set<RunningAttempt>();
  /** Sagas cancelled lately, by when they were signalled, so that a unit not started yet learns of it too. */
  private readonly cancelled = new Map<string, number>();

  async invoke(def: SagaDefinition, saga: SagaSnapshot, unit: UnitSnapshot): Promise<Outcome> {
    const step = def.steps[unit.step!];
    const compensating = unit.kind === UnitKind.Compensation;
    const handler = compensating ? step.compensation! : step;
    const label = `${def.name}.${handler.method}`;

    // The signal and the logger are made when the handler first reads them: most handlers never do.
    let controller: AbortController | undefined;
    let aborted: { reason: Error } | undefined;
    const abort = (reason: Error) => {
      aborted ??= { reason };
      controller?.abort(reason);
    };
    const signal = () => {
      if (!controller) {
        controller = new AbortController();
        if (aborted) controller.abort(aborted.reason);
      }
      return controller.signal;
    };
    let expire!: (reason: Error) => void;
    const expired = new Promise<never>((_, reject) => {
      expire = (reason) => {
        abort(reason);
        reject(reason);
      };
    });
    const attempt: RunningAttempt = { sagaId: saga.id, compensating, abort, expire };
    this.running.add(attempt);
    const timer = setTimeout(() => expire(new StepTimeoutError(label, handler.timeoutMs)), handler.timeoutMs);
    // Made on the first report: an attempt that reports nothing costs nothing.
    let progress: ProgressReporter | undefined;
    let logger: AttemptLogger | undefined;
    const attemptLogger = () =>
      (logger ??= new AttemptLogger(label, {
        sagaId: saga.id,
        saga: saga.name,
        step: step.name,
        attempt: unit.attempts,
      }));
    const stepIdempotencyKey = `${saga.id}:${step.name}`;
    const ctx: StepContext | CompensationContext = {
      sagaId: saga.id,
      sagaName: saga.name,
      input: saga.input,
      attempt: unit.attempts,
      idempotencyKey: compensating ? `${stepIdempotencyKey}:compensation` : stepIdempotencyKey,
      ...(compensating ? { stepIdempotencyKey } : {}),
      result: <T>(name: string) =>
        (saga.units.find((u) => u.kind === UnitKind.Step && def.steps[u.step!].name === name)?.output ??
          undefined) as T,
      // A wait step's handler runs with the signal it took.
      ...(unit.payload !== null ? { payload: unit.payload } : {}),
      get signal() {
        return signal();
      },
      get logger() {
        return attemptLogger();
      },
      progress: (value: unknown) =>
        (progress ??= new ProgressReporter(
          (json) => this.progressStore.write(saga.id, unit.key, unit.attempts, json),
          (error) => attemptLogger().warn(`progress not recorded: ${error.message}`),
        )).report(value),
    };
    try {
      const method = (def.instance as Record<string, (ctx: StepContext) => unknown>)[handler.method];
      const output = await Promise.race([method.call(def.instance, ctx), expired]);
      return { kind: 'succeeded', output: toJson(output) };
    } catch (error) {
      // A handler that gives up because its signal was aborted throws whatever its I/O throws (often
      // an AbortError): the attempt failed for the reason of the abort (cancel, timeout, shutdown).
      const reason: unknown = aborted ? aborted.reason : error;
      return { kind: 'failed', error: toSagaError(reason) };
    } finally {
      clearTimeout(timer);
      this.running.delete(attempt);
      expired.catch(() => undefined);
      // The last value reported is kept before the outcome is, so the view never loses it.
      if (progress) await progress.flush();
    }
  }

  /** Ends every attempt in flight (on shutdown); each is recorded as a failed, retryable attempt. */
  expireAll(reason: Error): void {
    for (const attempt of this.running) attempt.expire(reason);
  }

  /**
   * Signals the saga's forward attempt in flight in this process, if any, that the saga was
   * cancelled. Its outcome is still what the handler returns or throws, so that a step that
   * completed anyway is recorded, and compensated.
   */
  signalCancel(sagaId: string): void {
    this.rememberCancel(sagaId);
    for (const attempt of this.running) {
      if (attempt.sagaId === sagaId && !attempt.compensating) attempt.abort(new SagaCancelledError());
    }
  }

  /** Whether a cancel of the saga was signalled to this process lately. */
  cancelSignalled(sagaId: string): boolean {
    const at = this.cancelled.get(sagaId);
    return at !== undefined && Date.now() - at < CANCEL_MEMORY_MS;
  }

  private rememberCancel(sagaId: string): void {
    this.cancelled.delete(sagaId);
    this.cancelled.set(sagaId, Date.now());
    // Oldest first, in insertion order: drop what is too old, or too many.
    for (const [id, at] of this.cancelled) {
      if (this.cancelled.size <= CANCEL_MEMORY_SIZE && Date.now() - at < CANCEL_MEMORY_MS) break;
      this.cancelled.delete(id);
    }
  }
}

/** Remembered long enough to cover any unit that was queued when the cancel came. */
const CANCEL_MEMORY_MS = 10 * 60_000;
const CANCEL_MEMORY_SIZE = 10_000;

/** Outputs are stored as JSON; one that cannot be is a bug in the step, so retrying will not help. */
function toJson(output: unknown): unknown {
  try {
    const json: unknown = output === undefined ? null : JSON.parse(JSON.stringify(output));
    assertStorableJson(json, 'step output');
    return json;
  } catch (error) {
    throw Object.assign(new Error(`step output cannot be stored: ${(error as Error).message}`), {
      retryable: false,
    });
  }
}
