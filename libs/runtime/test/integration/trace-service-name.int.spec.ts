import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { tracer } from '@aion/telemetry';
import { defineService, loadConfigFor } from '../../src';

// In distributed mode each process names its spans after its service, so a trace across the
// gateway, the orchestrator and module-host shows which service did what.
describe('the tracing resource of a service process', () => {
  it("is the service's name in distributed mode", async () => {
    const service = defineService({
      service: 'module-host',
      config: loadConfigFor(
        'module-host',
        {},
        {},
        {
          AION_MODE: 'distributed',
          AION_MODULE_HOST_HTTP_PORT: '0',
          AION_MODULE_HOST_GRPC_PORT: '0',
          AION_MODULE_HOST_HOST: '127.0.0.1',
          AION_INTERNAL_TOKEN_SECRET: 'x'.repeat(40),
          LOG_LEVEL: 'error',
        },
      ),
      needs: {},
    });
    await service.start();
    try {
      const span = tracer().startSpan('probe');
      span.end();
      expect((span as unknown as ReadableSpan).resource.attributes['service.name']).toBe(
        'module-host',
      );
    } finally {
      await service.stop();
    }
  });
});
