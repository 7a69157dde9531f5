-- The trace context of a saga (its start span's W3C traceparent), when tracing was on, so that
-- every attempt of the saga, in whichever process, joins that one trace.
ALTER TABLE "sagas" ADD COLUMN "trace_context" text;
