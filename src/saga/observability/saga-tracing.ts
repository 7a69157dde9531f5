import type { OnApplicationShutdown } from '@nestjs/common';
import type { SagaSnapshot, UnitSnapshot } from '../machine/saga-snapshot.js';
import type { Outcome } from '../machine/transition.js';
import type { ResolvedSagaModuleOptions } from '../saga-module-options.js';

/**
 * Where the engine tells OpenTelemetry what it does: a span for each saga start, and one for each
 * step and compensation attempt, parented by the trace context stored with the saga (its
 * `trace_context`, a W3C `traceparent`), so that every attempt of a saga lands in one trace
 * whichever process runs it and however often it is redelivered.
 *
 * This class is tracing turned off: each hook runs what it wraps and nothing else, so the hot path
 * pays for a function call. The OpenTelemetry SDK lives in OtlpSagaTracing, loaded (imported) only
 * when the module options ask for tracing.
 */
export class SagaTracing implements OnApplicationShutdown {
  static async create(options: ResolvedSagaModuleOptions): Promise<SagaTracing> {
    if (!options.tracing) return new SagaTracing();
    const { OtlpSagaTracing } = await import('./otlp-saga-tracing.js');
    return new OtlpSagaTracing(options.tracing);
  }

  /** Whether spans are recorded: the HTTP start route gets its server span only then. */
  get enabled(): boolean {
    return false;
  }

  /**
   * Runs `start`, which records a new saga with the trace context it is given, inside the saga's
   * start span: the parent of every attempt span of that saga.
   */
  start<T extends { id: string }>(name: string, start: (traceContext?: string) => Promise<T>): Promise<T> {
    return start();
  }

  /** Runs one attempt of `unit` inside its span, a child of the saga's stored trace context. */
  attempt(_saga: SagaSnapshot, _unit: UnitSnapshot, run: () => Promise<Outcome>): Promise<Outcome> {
    return run();
  }

  /** The trace context to store with a child saga started now (by the attempt running): the parent's trace goes on. */
  activeContext(): string | undefined {
    return undefined;
  }

  /** Express middleware for the start route: a server span around the request, continuing the caller's `traceparent`. */
  serveStart(_request: unknown, _response: unknown, next: () => void): void {
    next();
  }

  /** Sends the spans still buffered, once the workers have ended their attempts. */
  async onApplicationShutdown(): Promise<void> {}
}
