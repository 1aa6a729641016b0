import { trace } from '@opentelemetry/api';
import { extractTraceContext, initTracing, inSpan } from './tracing';

// Without an exporter (OTEL_EXPORTER_OTLP_ENDPOINT unset) a served call makes no span of its
// own, but still runs in its caller's trace, so its logs carry the trace id.
initTracing({ serviceName: 'no-export' });

describe('inSpan with nothing exported', () => {
  it("continues the caller's context without a span of its own, and passes errors on", async () => {
    const traceId = '5bd66ef5095369c7b0d1f8f4bd33716a';
    const parent = extractTraceContext({ traceparent: `00-${traceId}-c532cb4098ac3dd2-01` });
    const seen = await inSpan('aion.v1.Svc/Call', parent, async () =>
      trace.getActiveSpan()!.spanContext(),
    );
    expect(seen).toMatchObject({ traceId, spanId: 'c532cb4098ac3dd2' });
    await expect(inSpan('x', parent, () => Promise.reject(new Error('no')))).rejects.toThrow('no');
  });
});
