import path from 'node:path';
import { InternalTokens } from '@aion/auth';
import { SovereignService } from '@aion/contracts';
import { migratePostgres } from '@aion/db';
import { createGrpcClient } from '@aion/grpc';
import type { RunningService } from '@aion/runtime';
import { runWithTenant } from '@aion/tenancy';
import {
  createTestDatabase,
  uniqueName,
  type TestDatabase,
  distributedEnv,
  onLoopback,
} from '@aion/testing';
import { loadSovereignAiConfig } from '../../src/config';
import { createSovereignAiService } from '../../src/sovereign-ai-service';

const migrations = path.resolve(__dirname, '..', '..', 'migrations');
const SECRET = 'sovereign-int-test-secret-0123456789abcdef';

export async function migratedDatabase(label: string): Promise<TestDatabase> {
  const db = await createTestDatabase(label);
  await migratePostgres(
    db.ownerUrl,
    { folder: migrations, prefix: 'sov' },
    { appRole: db.appRole },
  );
  return db;
}

/**
 * sovereign-ai as main.ts starts it (distributed mode, real PostgreSQL, Kafka and Redis), with
 * `env` on top, and a way to call it as a given principal of a given tenant, as the gateway does.
 */
export async function startSovereign(db: TestDatabase, env: Record<string, string>) {
  const service = createSovereignAiService(
    loadSovereignAiConfig({
      ...distributedEnv(db, SECRET),
      ...onLoopback('AION_SOVEREIGN_'),
      AION_SOVEREIGN_CACHE_GROUP_PREFIX: uniqueName('sov-int'),
      LOG_LEVEL: 'error',
      ...env,
    }),
  );
  const running: RunningService = (await service.start())!;
  const client = createGrpcClient(SovereignService, `127.0.0.1:${running.grpcPort}`, {
    tokens: new InternalTokens(SECRET, 'gateway'),
  });
  /**
   * Runs `fn` with the client as `who`, an admin of `tenantId`: a subject (owned by itself, as a
   * service or a token from before owners is) or a subject and the person who owns it.
   */
  const as = <T>(
    tenantId: string,
    who: string | { subject: string; owner: string },
    fn: (c: typeof client) => Promise<T>,
  ) =>
    runWithTenant(
      {
        tenantId,
        ...(typeof who === 'string' ? { subject: who } : who),
        roles: ['admin'],
        requestId: uniqueName('r'),
      },
      () => fn(client),
    );
  return {
    as,
    stop: async () => {
      client.close();
      await service.stop();
    },
  };
}
