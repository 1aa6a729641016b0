import path from 'node:path';
import { InternalTokens } from '@aion/auth';
import { ObservabilityService } from '@aion/contracts';
import { migratePostgres } from '@aion/db';
import { createGrpcClient } from '@aion/grpc';
import type { RunningService } from '@aion/runtime';
import { runWithTenant } from '@aion/tenancy';
import {
  createTestDatabase,
  distributedEnv,
  onLoopback,
  uniqueName,
  type TestDatabase,
} from '@aion/testing';
import { loadObservabilityConfig } from '../../src/config';
import { createObservabilityService } from '../../src/observability-service';

const migrations = path.resolve(__dirname, '..', '..', 'migrations');
export const SECRET = 'observability-int-test-secret-0123456789';

export async function migratedDatabase(label: string): Promise<TestDatabase> {
  const db = await createTestDatabase(label);
  await migratePostgres(
    db.ownerUrl,
    { folder: migrations, prefix: 'obs' },
    { appRole: db.appRole },
  );
  return db;
}

/**
 * The observability service as main.ts starts it (distributed mode, real PostgreSQL and Kafka),
 * and a way to call it as a principal of a tenant with given roles, as the gateway does.
 */
export async function startObservability(db: TestDatabase, env: Record<string, string> = {}) {
  const service = createObservabilityService(
    loadObservabilityConfig({
      ...distributedEnv(db, SECRET),
      ...onLoopback('AION_OBSERVABILITY_'),
      LOG_LEVEL: 'error',
      ...env,
    }),
  );
  const running: RunningService = (await service.start())!;
  const client = createGrpcClient(ObservabilityService, `127.0.0.1:${running.grpcPort}`, {
    tokens: new InternalTokens(SECRET, 'gateway'),
  });
  const as = <T>(tenantId: string, role: string, fn: (c: typeof client) => Promise<T>) =>
    runWithTenant(
      { tenantId, subject: `${role}-of-${tenantId}`, roles: [role], requestId: uniqueName('r') },
      () => fn(client),
    );
  return {
    as,
    httpPort: running.httpPort,
    grpcPort: running.grpcPort,
    stop: async () => {
      client.close();
      await service.stop();
    },
  };
}
