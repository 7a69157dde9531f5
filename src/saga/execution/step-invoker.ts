import { Injectable, Logger } from '@nestjs/common';
import type { SagaDefinition } from '../definition/saga-definition.interface.js';
import { toSagaError } from '../errors/saga-error.js';
import { assertStorableJson } from '../store/storable-json.js';
import { StepTimeoutError } from '../errors/step-timeout.error.js';
import type { CompensationContext, StepContext } from './step-context.interface.js';
import type { Outcome, SagaSnapshot } from './transition.interface.js';

/** Calls the handler of a claimed unit and turns whatever happens into an outcome; never throws. */
@Injectable()
export class StepInvoker {
  /** Attempts in flight in this process, so that shutdown can abort them. */
  private readonly inFlight = new Set<AbortController>();

  async invoke(def: SagaDefinition, saga: SagaSnapshot): Promise<Outcome> {
    const stepDef = def.steps[saga.stepIndex];
    const step = saga.steps[saga.stepIndex];
    const compensating = saga.phase === 'compensation';
    const handler = compensating ? stepDef.compensation! : stepDef;
    const label = `${def.name}.${handler.method}`;

    const controller = new AbortController();
    this.inFlight.add(controller);
    const timer = setTimeout(
      () => controller.abort(new StepTimeoutError(label, handler.timeoutMs)),
      handler.timeoutMs,
    );
    const outputs = new Map(saga.steps.map((s) => [s.name, s.output]));
    const stepIdempotencyKey = `${saga.id}:${step.name}`;
    const ctx: StepContext | CompensationContext = {
      sagaId: saga.id,
      sagaName: saga.name,
      input: saga.input,
      attempt: compensating ? step.compensationAttempts : step.attempts,
      idempotencyKey: compensating ? `${stepIdempotencyKey}:compensation` : stepIdempotencyKey,
      ...(compensating ? { stepIdempotencyKey } : {}),
      result: <T>(name: string) => (outputs.get(name) ?? undefined) as T,
      signal: controller.signal,
      logger: new Logger(label),
    };
    try {
      const method = (def.instance as Record<string, (ctx: StepContext) => unknown>)[handler.method];
      const output = await Promise.race([method.call(def.instance, ctx), rejectOnAbort(controller.signal)]);
      return { kind: 'succeeded', output: toJson(output) };
    } catch (error) {
      return { kind: 'failed', error: toSagaError(error) };
    } finally {
      clearTimeout(timer);
      this.inFlight.delete(controller);
    }
  }

  abortAll(reason: Error): void {
    for (const controller of this.inFlight) controller.abort(reason);
  }
}

function rejectOnAbort(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) =>
    signal.addEventListener('abort', () => reject(signal.reason), { once: true }),
  );
}

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
