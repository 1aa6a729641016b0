import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { JSONWebKeySet } from 'jose';
import { InternalTokens } from '@aion/auth';
import { SovereignService } from '@aion/contracts';
import { migratePostgres, openPostgres, type Database } from '@aion/db';
import { createGrpcClient } from '@aion/grpc';
import { verifyReceipt } from '@aion/receipts';
import type { RunningService, ServiceLifecycle } from '@aion/runtime';
import { runWithTenant } from '@aion/tenancy';
import {
  createTestDatabase,
  uniqueName,
  type TestDatabase,
  migrationsUpTo,
  distributedEnv,
  onLoopback,
} from '@aion/testing';
import { PostgresReceiptKeys } from '../../src/adapters/db/stores';
import { loadSovereignAiConfig } from '../../src/config';
import { ReceiptKeyring } from '../../src/core/receipt-keys';
import { createSovereignAiService } from '../../src/sovereign-ai-service';

const migrations = path.resolve(__dirname, '..', '..', 'migrations');
const SECRET = 'receipt-keys-test-secret-0123456789abcdef';
const DAY = 86_400_000;
const scratch = mkdtempSync(path.join(os.tmpdir(), 'aion-sov-keys-'));

async function migratedDatabase(label: string): Promise<TestDatabase> {
  const db = await createTestDatabase(label);
  await migratePostgres(
    db.ownerUrl,
    { folder: migrations, prefix: 'sov' },
    { appRole: db.appRole },
  );
  return db;
}

const keyRows = (db: TestDatabase) =>
  db.queryAsOwner<{ kid: string; generation: number }>(
    'select kid, generation from sov_receipt_keys order by generation',
  );

describe('sovereign-ai publishes its receipt signing key from startup', () => {
  let db: TestDatabase;
  const services: ServiceLifecycle[] = [];

  beforeAll(async () => {
    db = await migratedDatabase('sovkeysvc');
  });

  afterAll(async () => {
    await Promise.all(services.map((s) => s.stop()));
    await db.drop();
  });

  /** One replica, as main.ts starts it, on the shared test database and infrastructure. */
  function replica(): ServiceLifecycle {
    const service = createSovereignAiService(
      loadSovereignAiConfig({
        ...distributedEnv(db, SECRET),
        ...onLoopback('AION_SOVEREIGN_'),
        AION_SOVEREIGN_K8S_MODE: 'render',
        AION_SOVEREIGN_MANIFESTS_DIR: scratch,
        AION_SOVEREIGN_CACHE_GROUP_PREFIX: uniqueName('sov-keys'),
        LOG_LEVEL: 'error',
      }),
    );
    services.push(service);
    return service;
  }

  const clientOf = (running: RunningService, caller: string) =>
    createGrpcClient(SovereignService, `127.0.0.1:${running.grpcPort}`, {
      tokens: new InternalTokens(SECRET, caller),
    });

  it('two replicas starting together list one key before any receipt, and receipts verify with it', async () => {
    const [first, second] = await Promise.all([replica().start(), replica().start()]);
    const keysOf = async (running: RunningService) => {
      const client = clientOf(running, 'gateway');
      try {
        return JSON.parse((await client.getReceiptKeys({})).jwksJson) as JSONWebKeySet;
      } finally {
        client.close();
      }
    };
    const [jwksFirst, jwksSecond] = await Promise.all([keysOf(first!), keysOf(second!)]);
    expect(jwksFirst.keys).toHaveLength(1);
    expect(jwksSecond.keys.map((k) => k.kid)).toEqual(jwksFirst.keys.map((k) => k.kid));
    expect(jwksFirst.keys[0]).toMatchObject({ kty: 'OKP', crv: 'Ed25519', alg: 'EdDSA' });
    expect(jwksFirst.keys[0]).not.toHaveProperty('d');
    expect((await keyRows(db)).map((r) => r.kid)).toEqual([jwksFirst.keys[0]!.kid]);

    const orchestrator = clientOf(second!, 'orchestrator');
    try {
      const receipt = JSON.stringify({ task_id: 't-1', tenant_id: 'acme' });
      const signed = await runWithTenant(
        { tenantId: 'acme', subject: 'orchestrator', roles: ['admin'], requestId: 'r-1' },
        () => orchestrator.signReceipt({ receiptJson: receipt }),
      );
      expect(signed.kid).toBe(jwksFirst.keys[0]!.kid);
      await expect(verifyReceipt(signed.jws, jwksFirst, receipt)).resolves.toMatchObject({
        task_id: 't-1',
      });
    } finally {
      orchestrator.close();
    }
    expect(await keyRows(db)).toHaveLength(1);
  }, 120_000);
});

describe('receipt keyrings racing on one PostgreSQL database', () => {
  let db: TestDatabase;
  const pools: Database[] = [];

  beforeAll(async () => {
    db = await migratedDatabase('sovkeyrace');
  });

  afterAll(async () => {
    await Promise.all(pools.map((p) => p.close()));
    await db.drop();
  });

  /** Keyrings as separate replicas: each with its own connection pool. */
  function keyrings(count: number, now: () => number): ReceiptKeyring[] {
    return Array.from({ length: count }, () => {
      const pool = openPostgres({ url: db.appUrl, max: 2 });
      pools.push(pool);
      return new ReceiptKeyring(
        new PostgresReceiptKeys(pool.db),
        {
          passphrase: 'shared-passphrase-shared-passphrase',
          rotateAfterMs: 30 * DAY,
          retainMs: 400 * DAY,
          refreshMs: 0,
        },
        now,
      );
    });
  }

  it('starting together, they store one key and all sign with it; rotating together, one successor', async () => {
    let now = Date.now();
    const rings = keyrings(8, () => now);
    const kids = await Promise.all(rings.map((ring) => ring.ensureSigningKey()));
    const rows = await keyRows(db);
    expect(rows).toEqual([{ kid: kids[0], generation: 1 }]);
    expect(new Set(kids).size).toBe(1);

    now += 31 * DAY;
    const signed = await Promise.all(rings.map((ring) => ring.sign('{"n":1}')));
    const after = await keyRows(db);
    expect(after.map((r) => r.generation)).toEqual([1, 2]);
    expect(new Set(signed.map((s) => s.kid))).toEqual(new Set([after[1]!.kid]));
    const jwks = await rings[0]!.jwks();
    expect(jwks.keys.map((k) => k.kid)).toEqual([after[1]!.kid, after[0]!.kid]);
    for (const { jws } of signed) await expect(verifyReceipt(jws, jwks)).resolves.toEqual({ n: 1 });
  }, 60_000);
});

describe('migration 0002 numbers the keys made before generations', () => {
  it('gives existing keys generations in creation order and keeps them signing', async () => {
    const db = await createTestDatabase('sovkeymig');
    // The migrations as they were before generations.
    const before = migrationsUpTo(migrations, '0001_sovereign');
    try {
      await migratePostgres(db.ownerUrl, { folder: before, prefix: 'sov' });
      await db.queryAsOwner(
        `insert into sov_receipt_keys (kid, public_jwk, encrypted_private_key, created_at) values
         ('newer', '{}', 'x', now() - interval '1 day'), ('older', '{}', 'x', now() - interval '40 days')`,
      );
      await migratePostgres(
        db.ownerUrl,
        { folder: migrations, prefix: 'sov' },
        { appRole: db.appRole },
      );
      expect(await keyRows(db)).toEqual([
        { kid: 'older', generation: 1 },
        { kid: 'newer', generation: 2 },
      ]);
      await expect(
        db.queryAsOwner(
          `insert into sov_receipt_keys (kid, generation, public_jwk, encrypted_private_key, created_at)
           values ('rival', 2, '{}', 'x', now())`,
        ),
      ).rejects.toThrow(/sov_receipt_keys_generation_unique/);
    } finally {
      await db.drop();
    }
  }, 60_000);
});

afterAll(() => rmSync(scratch, { recursive: true, force: true }));
