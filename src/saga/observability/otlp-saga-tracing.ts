import {
  context,
  defaultTextMapGetter,
  defaultTextMapSetter,
  diag,
  DiagLogLevel,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Context,
  type Span,
  type Tracer,
} from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import {
  ATTR_ERROR_TYPE,
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_HTTP_ROUTE,
  ATTR_SERVICE_NAME,
  ATTR_URL_PATH,
} from '@opentelemetry/semantic-conventions';
import { Logger } from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { UnitKind, type SagaSnapshot, type UnitSnapshot } from '../machine/saga-snapshot.js';
import type { Outcome } from '../machine/transition.js';
import type { SagaTracingOptions } from '../saga-module-options.js';
import { SagaTracing } from './saga-tracing.js';

/** The attributes of the engine's spans, beside OpenTelemetry's own (`error.type`, `http.*`). */
export const SagaSpanAttribute = {
  SagaId: 'saga.id',
  SagaName: 'saga.name',
  SagaVersion: 'saga.version',
  Step: 'saga.step',
  Attempt: 'saga.attempt',
  /** `step` or `compensation`. */
  Kind: 'saga.attempt.kind',
  /** `succeeded`, `failed`, `spawned` (a child saga) or `cancelled` (not run: the saga stopped). */
  Outcome: 'saga.attempt.outcome',
} as const;

/** Tracing on: the OpenTelemetry SDK, exporting spans over OTLP/HTTP (protobuf) in batches. */
export class OtlpSagaTracing extends SagaTracing {
  private readonly provider: NodeTracerProvider;
  private readonly tracer: Tracer;
  /** The stored trace context is a W3C `traceparent`, whatever propagator the application registers. */
  private readonly propagator = new W3CTraceContextPropagator();

  constructor(options: SagaTracingOptions) {
    super();
    const logger = new Logger('Tracing');
    diag.setLogger(
      {
        error: (message) => logger.warn(message),
        warn: (message) => logger.warn(message),
        info: () => undefined,
        debug: () => undefined,
        verbose: () => undefined,
      },
      DiagLogLevel.WARN,
    );
    this.provider = new NodeTracerProvider({
      resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: options.serviceName }),
      spanProcessors: [
        new BatchSpanProcessor(
          new OTLPTraceExporter({ url: `${options.otlpEndpoint.replace(/\/+$/, '')}/v1/traces` }),
        ),
      ],
    });
    // Registered globally, so that a handler's own spans (and the active span it may read) nest in its attempt's.
    this.provider.register();
    this.tracer = this.provider.getTracer('nest-saga');
  }

  override get enabled(): boolean {
    return true;
  }

  override start<T extends { id: string }>(
    name: string,
    start: (traceContext?: string) => Promise<T>,
  ): Promise<T> {
    const attributes = { [SagaSpanAttribute.SagaName]: name };
    return this.tracer.startActiveSpan(`start ${name}`, { attributes }, async (span) => {
      try {
        const saga = await start(this.activeContext());
        span.setAttribute(SagaSpanAttribute.SagaId, saga.id);
        return saga;
      } catch (error) {
        failed(span, (error as Error).name, (error as Error).message);
        throw error;
      } finally {
        span.end();
      }
    });
  }

  override async attempt(
    saga: SagaSnapshot,
    unit: UnitSnapshot,
    run: () => Promise<Outcome>,
  ): Promise<Outcome> {
    // A saga started while tracing was off has no trace to join.
    if (!saga.traceContext) return run();
    const parent = this.propagator.extract(
      ROOT_CONTEXT,
      { traceparent: saga.traceContext },
      defaultTextMapGetter,
    );
    const kind = unit.kind === UnitKind.Compensation ? 'compensation' : 'step';
    const span = this.tracer.startSpan(
      `${kind} ${saga.name}.${unit.name}`,
      {
        attributes: {
          [SagaSpanAttribute.SagaId]: saga.id,
          [SagaSpanAttribute.SagaName]: saga.name,
          [SagaSpanAttribute.SagaVersion]: saga.version,
          [SagaSpanAttribute.Step]: unit.name,
          [SagaSpanAttribute.Attempt]: unit.attempts,
          [SagaSpanAttribute.Kind]: kind,
        },
      },
      parent,
    );
    try {
      const outcome = await context.with(trace.setSpan(parent, span), run);
      span.setAttribute(SagaSpanAttribute.Outcome, outcome.kind);
      if (outcome.kind === 'failed') failed(span, outcome.error.name, outcome.error.message);
      return outcome;
    } finally {
      span.end();
    }
  }

  override activeContext(): string | undefined {
    return this.traceparentOf(context.active());
  }

  override serveStart(
    request: IncomingMessage & { originalUrl?: string },
    response: ServerResponse,
    next: () => void,
  ): void {
    const parent = this.propagator.extract(ROOT_CONTEXT, request.headers, defaultTextMapGetter);
    const span = this.tracer.startSpan(
      'POST /sagas/{name}',
      {
        kind: SpanKind.SERVER,
        attributes: {
          [ATTR_HTTP_REQUEST_METHOD]: 'POST',
          [ATTR_HTTP_ROUTE]: '/sagas/{name}',
          // Express strips a middleware's mount path from `url`, not from `originalUrl`.
          [ATTR_URL_PATH]: (request.originalUrl ?? request.url)?.split('?')[0],
        },
      },
      parent,
    );
    response.once('close', () => {
      span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, response.statusCode);
      if (response.statusCode >= 500) failed(span, String(response.statusCode), response.statusMessage);
      span.end();
    });
    context.with(trace.setSpan(parent, span), next);
  }

  override async onApplicationShutdown(): Promise<void> {
    await this.provider.shutdown();
  }

  private traceparentOf(active: Context): string | undefined {
    const carrier: { traceparent?: string } = {};
    this.propagator.inject(active, carrier, defaultTextMapSetter);
    return carrier.traceparent;
  }
}

function failed(span: Span, name: string, message: string): void {
  span.setAttribute(ATTR_ERROR_TYPE, name);
  span.setStatus({ code: SpanStatusCode.ERROR, message });
}
