import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import protobuf from 'protobufjs';

/**
 * The part of OpenTelemetry's trace protocol (opentelemetry-proto, `collector/trace/v1` and
 * `trace/v1`) that the tests read, with its field numbers: protobuf skips the fields it omits.
 */
const OTLP_TRACES_PROTO = `
syntax = "proto3";
message ExportTraceServiceRequest { repeated ResourceSpans resource_spans = 1; }
message ResourceSpans { Resource resource = 1; repeated ScopeSpans scope_spans = 2; }
message Resource { repeated KeyValue attributes = 1; }
message ScopeSpans { repeated Span spans = 2; }
message Span {
  bytes trace_id = 1;
  bytes span_id = 2;
  bytes parent_span_id = 4;
  string name = 5;
  int32 kind = 6;
  fixed64 start_time_unix_nano = 7;
  fixed64 end_time_unix_nano = 8;
  repeated KeyValue attributes = 9;
  Status status = 15;
}
message Status { string message = 2; int32 code = 3; }
message KeyValue { string key = 1; AnyValue value = 2; }
message AnyValue {
  oneof value { string string_value = 1; bool bool_value = 2; int64 int_value = 3; double double_value = 4; }
}`;

const Request = protobuf.parse(OTLP_TRACES_PROTO).root.lookupType('ExportTraceServiceRequest');

/** OpenTelemetry's SpanKind numbers in OTLP. */
export const OtlpSpanKind = { Internal: 1, Server: 2 } as const;
/** OTLP's status codes. */
export const OtlpStatusCode = { Unset: 0, Ok: 1, Error: 2 } as const;

type Attribute = string | number | boolean;

export interface ReceivedSpan {
  service: string;
  traceId: string;
  spanId: string;
  /** Empty for a root span. */
  parentSpanId: string;
  name: string;
  kind: number;
  startedAtMs: number;
  attributes: Record<string, Attribute>;
  status: { code: number; message: string };
}

interface KeyValue {
  key: string;
  value?: { stringValue?: string; boolValue?: boolean; intValue?: number; doubleValue?: number };
}

/**
 * An OTLP/HTTP collector in the test process: decodes what the exporters of the application
 * processes send to `/v1/traces` (protobuf, as they send it) and keeps every span.
 */
export class OtlpReceiver {
  readonly spans: ReceivedSpan[] = [];

  private constructor(private readonly server: Server) {}

  static async start(): Promise<OtlpReceiver> {
    const server = createServer();
    const receiver = new OtlpReceiver(server);
    server.on('request', (request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        if (request.method !== 'POST' || request.url !== '/v1/traces') {
          response.writeHead(404).end();
          return;
        }
        receiver.receive(Buffer.concat(chunks));
        // An empty ExportTraceServiceResponse: everything was accepted.
        response.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return receiver;
  }

  /** The base URL to give as OTEL_EXPORTER_OTLP_ENDPOINT. */
  get endpoint(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** The spans of one saga: those whose `saga.id` attribute is `sagaId`. */
  of(sagaId: string): ReceivedSpan[] {
    return this.spans.filter((span) => span.attributes['saga.id'] === sagaId);
  }

  async close(): Promise<void> {
    this.server.close();
    this.server.closeAllConnections();
    await once(this.server, 'close');
  }

  private receive(body: Buffer): void {
    const request = Request.toObject(Request.decode(body), { longs: Number }) as {
      resourceSpans?: { resource?: { attributes?: KeyValue[] }; scopeSpans?: { spans?: RawSpan[] }[] }[];
    };
    for (const resourceSpans of request.resourceSpans ?? []) {
      const service = String(attributesOf(resourceSpans.resource?.attributes)['service.name']);
      for (const scope of resourceSpans.scopeSpans ?? []) {
        for (const span of scope.spans ?? []) {
          this.spans.push({
            service,
            traceId: hex(span.traceId),
            spanId: hex(span.spanId),
            parentSpanId: hex(span.parentSpanId),
            name: span.name,
            kind: span.kind ?? 0,
            startedAtMs: Number(span.startTimeUnixNano ?? 0) / 1e6,
            attributes: attributesOf(span.attributes),
            status: { code: span.status?.code ?? 0, message: span.status?.message ?? '' },
          });
        }
      }
    }
  }
}

interface RawSpan {
  traceId?: Uint8Array;
  spanId?: Uint8Array;
  parentSpanId?: Uint8Array;
  name: string;
  kind?: number;
  startTimeUnixNano?: number;
  attributes?: KeyValue[];
  status?: { code?: number; message?: string };
}

function hex(bytes: Uint8Array | undefined): string {
  return bytes ? Buffer.from(bytes).toString('hex') : '';
}

function attributesOf(list: KeyValue[] | undefined): Record<string, Attribute> {
  const attributes: Record<string, Attribute> = {};
  for (const { key, value = {} } of list ?? []) {
    const found = value.stringValue ?? value.intValue ?? value.boolValue ?? value.doubleValue;
    if (found !== undefined) attributes[key] = found;
  }
  return attributes;
}
