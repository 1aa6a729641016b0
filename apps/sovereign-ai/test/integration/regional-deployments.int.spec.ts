import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestDatabase } from '@aion/testing';
import { uniqueName } from '@aion/testing';
import { migratedDatabase, startSovereign } from './running-sovereign';

// Two tenants deploy the same model id in the same region through sovereign-ai's gRPC API, in
// render mode (manifests written for GitOps): the probe of security finding 1, on real services.

const scratch = mkdtempSync(path.join(os.tmpdir(), 'aion-sov-regional-'));
const DECOMMISSIONED = 5;
let db: TestDatabase;
let sovereign: Awaited<ReturnType<typeof startSovereign>>;

const manifestFiles = () =>
  readdirSync(scratch, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.join(e.parentPath, e.name))
    .sort();

beforeAll(async () => {
  db = await migratedDatabase('sovregional');
  sovereign = await startSovereign(db, {
    AION_SOVEREIGN_K8S_MODE: 'render',
    AION_SOVEREIGN_MANIFESTS_DIR: scratch,
  });
}, 120_000);

afterAll(async () => {
  await sovereign?.stop();
  await db?.drop();
  rmSync(scratch, { recursive: true, force: true });
});

/** As tenant `tenantId`: registers the model, has a second principal approve it, deploys it. */
async function deployAs(tenantId: string, image: string) {
  const { model } = await sovereign.as(tenantId, 'registrar', (c) =>
    c.registerModel({ modelRef: 'llama-3.1-8b', name: '', version: '', jurisdiction: 'EU' }),
  );
  await sovereign.as(tenantId, 'approver', (c) =>
    c.approveModel({ id: model!.id, reason: 'reviewed' }),
  );
  const out = await sovereign.as(tenantId, 'registrar', (c) =>
    c.deployRegional({
      jurisdiction: 'DE',
      region: 'eu-central-1',
      modelId: 'llama-3.1-8b',
      modelVersion: '',
      image,
      replicas: 1,
    }),
  );
  return out.deployment!;
}

describe('regional deployments of two tenants in one region', () => {
  it("are distinct objects in distinct files, and B's decommission leaves A's", async () => {
    const [tenantA, tenantB] = [uniqueName('reg-a'), uniqueName('reg-b')];
    const a = await deployAs(tenantA, 'registry.local/tenant-a/vllm:1');
    const b = await deployAs(tenantB, 'registry.local/tenant-b/vllm:1');
    expect(a.namespace).toBe('aion-sovereign-de-eu-central-1');
    expect(b.namespace).toBe(a.namespace);
    expect(a.endpoint).not.toBe(b.endpoint);

    const files = manifestFiles();
    expect(files).toHaveLength(2);
    const fileOf = (image: string) => files.find((f) => readFileSync(f, 'utf8').includes(image))!;
    const fileA = fileOf('registry.local/tenant-a/vllm:1');
    const fileB = fileOf('registry.local/tenant-b/vllm:1');
    expect(fileA).not.toBe(fileB);
    expect(readFileSync(fileA, 'utf8')).toContain(`aion.io/tenant: ${tenantA}`);

    const done = await sovereign.as(tenantB, 'registrar', (c) =>
      c.updateDeploymentStatus({ id: b.id, status: DECOMMISSIONED, reason: 'no longer needed' }),
    );
    expect(done.deployment?.status).toBe(DECOMMISSIONED);
    expect(manifestFiles()).toEqual([fileA]);
    expect(readFileSync(fileA, 'utf8')).toContain('registry.local/tenant-a/vllm:1');
  }, 60_000);
});
