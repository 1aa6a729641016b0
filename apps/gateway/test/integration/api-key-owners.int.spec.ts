import { rmSync } from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { migratePostgres } from '@aion/db';
import type { RunningService } from '@aion/runtime';
import {
  createTestDatabase,
  distributedEnv,
  httpCall,
  onLoopback,
  testIdentityProvider,
  uniqueName,
  type TestDatabase,
  migrationsUpTo,
} from '@aion/testing';
import { loadGatewayConfig } from '../../src/config';
import { createGatewayService } from '../../src/gateway-service';

// Every API key names the person behind it (security finding 11): the gateway as main.ts starts
// it, on real PostgreSQL, Redis and Kafka, through its REST API.

const MIGRATIONS = path.resolve(__dirname, '..', '..', 'migrations');
const BOOTSTRAP = 'owners-int-bootstrap-admin-key-0123456789';
const idp = testIdentityProvider();

let db: TestDatabase;
let running: RunningService;
let base: string;
const tenant = uniqueName('owners');

/** Creates a key with `credential`; answers the created key's JSON (with its secret in `key`). */
async function createKey(credential: string, role = 'admin') {
  const created = await httpCall(base, 'POST', '/api/v1/auth/keys', {
    key: credential,
    body: { name: uniqueName(role), role },
  });
  if (created.status !== 201)
    throw new Error(`could not create a key: ${created.status} ${created.text}`);
  return created.json;
}

/** The owner the keys listing shows for a key, and the one stored in its row. */
async function ownerOf(id: string): Promise<{ listed: unknown; stored: string | undefined }> {
  const listing = await httpCall(base, 'GET', '/api/v1/auth/keys', { key: BOOTSTRAP });
  const listed = (listing.json['data'] as { id: string; owner?: unknown }[]).find(
    (k) => k.id === id,
  )?.owner;
  const [row] = await db.queryAsOwner<{ owner: string }>(
    'select owner from gw_api_keys where id = $1',
    [id],
  );
  return { listed, stored: row?.owner };
}

beforeAll(async () => {
  db = await createTestDatabase('gwowners');
  await migratePostgres(db.ownerUrl, { folder: MIGRATIONS, prefix: 'gw' }, { appRole: db.appRole });
  const service = createGatewayService(
    loadGatewayConfig({
      ...distributedEnv(db, 'owners-int-internal-secret-0123456789abcdef'),
      ...onLoopback('AION_GATEWAY_'),
      AION_GATEWAY_OPS_PORT: '0',
      // Nothing here calls them: key and user management stay in the gateway.
      AION_GATEWAY_ORCHESTRATOR_ADDRESS: '127.0.0.1:9',
      AION_GATEWAY_SOVEREIGN_ADDRESS: '127.0.0.1:9',
      AION_BOOTSTRAP_ADMIN_KEY: BOOTSTRAP,
      AION_BOOTSTRAP_TENANT: tenant,
      AION_GATEWAY_LOGIN_HASH_WORKERS: '1',
      LOG_LEVEL: 'error',
      ...idp.gatewayEnv,
    }),
  );
  running = (await service.start())!;
  base = `http://127.0.0.1:${running.httpPort}`;
}, 60_000);

afterAll(async () => {
  await running?.stop();
  await db?.drop();
});

describe('API keys name the person behind them', () => {
  it("a key made by the bootstrap key, and a key made by that key, are the bootstrap owner's", async () => {
    const first = await createKey(BOOTSTRAP);
    expect(first['owner']).toBe('bootstrap');
    const second = await createKey(first['key'] as string);
    // Inherited from the creating key's owner, not the creating key itself (`key:<id>`).
    expect(second['owner']).toBe('bootstrap');
    expect(await ownerOf(second['id'] as string)).toEqual({
      listed: 'bootstrap',
      stored: 'bootstrap',
    });
  });

  it("a logged-in user's key is the user's, and so is every key made with it", async () => {
    const user = await httpCall(base, 'POST', '/api/v1/auth/users', {
      key: BOOTSTRAP,
      body: { username: uniqueName('alice'), password: 'a long enough password', role: 'admin' },
    });
    expect(user.status).toBe(201);
    const login = await httpCall(base, 'POST', '/api/v1/auth/login', {
      body: {
        tenant_id: tenant,
        username: user.json['username'],
        password: 'a long enough password',
      },
    });
    expect(login.status).toBe(200);
    const owner = `user:${user.json['id'] as string}`;
    const own = await createKey(login.json['access_token'] as string);
    expect(own['owner']).toBe(owner);
    const made = await createKey(own['key'] as string, 'developer');
    expect(await ownerOf(made['id'] as string)).toEqual({ listed: owner, stored: owner });
  });

  it("an identity provider's token owns its keys as its sub within its issuer", async () => {
    const token = await idp.sign({ subject: 'carol', tenantId: tenant, roles: ['admin'] });
    const key = await createKey(token);
    expect(key['owner']).toBe(`idp:${encodeURIComponent(idp.issuer)}:carol`);
    const made = await createKey(key['key'] as string);
    expect(made['owner']).toBe(key['owner']);
  });

  it('never takes an owner from the request', async () => {
    const refused = await httpCall(base, 'POST', '/api/v1/auth/keys', {
      key: BOOTSTRAP,
      body: { name: 'forged', role: 'admin', owner: 'user:someone-else' },
    });
    expect(refused.status).toBe(400);
    expect(refused.json['error_code']).toBe('validation.invalid_argument');
  });
});

describe('migration 0004_api_key_owner', () => {
  it('makes each existing key its own owner (its subject), as the four-eyes rules saw it before', async () => {
    const old = await createTestDatabase('gwownersmig');
    const before = migrationsUpTo(MIGRATIONS, '0003_normalized_usernames');
    try {
      await migratePostgres(
        old.ownerUrl,
        { folder: before, prefix: 'gw' },
        { appRole: old.appRole },
      );
      const ids = [randomUUID(), randomUUID()];
      for (const [i, id] of ids.entries())
        await old.queryAsOwner(
          `insert into gw_api_keys (id, prefix, secret_hash, tenant_id, role, name)
           values ($1, $2, 'h', 'acme', 'admin', 'old key')`,
          [id, `oldprefix00${i}`],
        );
      await migratePostgres(
        old.ownerUrl,
        { folder: MIGRATIONS, prefix: 'gw' },
        { appRole: old.appRole },
      );
      const rows = await old.queryAsOwner<{ id: string; owner: string }>(
        'select id, owner from gw_api_keys order by owner',
      );
      expect(rows).toEqual(
        ids
          .map((id) => ({ id, owner: `key:${id}` }))
          .sort((a, b) => a.owner.localeCompare(b.owner)),
      );
      await expect(
        old.queryAsOwner(
          `insert into gw_api_keys (id, prefix, secret_hash, tenant_id, role, name)
           values ($1, 'newprefix000', 'h', 'acme', 'admin', 'no owner')`,
          [randomUUID()],
        ),
      ).rejects.toThrow(/owner/);
    } finally {
      rmSync(before, { recursive: true, force: true });
      await old.drop();
    }
  });
});
