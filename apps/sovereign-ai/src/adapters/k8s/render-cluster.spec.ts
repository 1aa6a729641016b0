import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { renderManifests, type DeploymentManifests } from '../../core/deployments';
import type { RegionalDeployment } from '../../core/model';
import { RenderedCluster } from './render-cluster';

const base: RegionalDeployment = {
  id: '3c2b1a00-1111-4222-8333-944455556666',
  tenantId: 'tenant-a',
  jurisdiction: 'DE',
  region: 'eu-central-1',
  namespace: 'aion-sovereign-de-eu-central-1',
  modelId: 'llama-3.1-8b',
  modelVersion: '',
  image: 'registry.local/tenant-a/vllm:1',
  replicas: 1,
  status: 'PENDING',
  statusReason: '',
  endpoint: '',
  mode: 'render',
  createdAt: new Date(0),
  updatedAt: new Date(0),
};
const ofA = base;
const ofB: RegionalDeployment = {
  ...base,
  id: '9f8e7d00-5555-4666-8777-a88899990000',
  tenantId: 'tenant-b',
  image: 'registry.local/tenant-b/vllm:1',
};

/** B's manifests under A's names: the collision that distinct names prevent, forced. */
function underNamesOf(owner: DeploymentManifests, m: DeploymentManifests): DeploymentManifests {
  const name = owner.deployment.metadata.name;
  return {
    ...m,
    deployment: { ...m.deployment, metadata: { ...m.deployment.metadata, name } },
    service: { ...m.service, metadata: { ...m.service.metadata, name } },
  };
}

describe('RenderedCluster on the file system', () => {
  let dir: string;
  let cluster: RenderedCluster;
  const files = () =>
    readdirSync(dir, { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile())
      .map((e) => path.join(e.parentPath, e.name))
      .sort();

  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'aion-render-'));
    cluster = new RenderedCluster(dir);
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("writes two tenants' deployments of one model in one region to separate files; B's decommission leaves A's", async () => {
    await cluster.deploy(renderManifests(ofA));
    await cluster.deploy(renderManifests(ofB));
    const written = files();
    expect(written).toHaveLength(2);
    const fileOfA = written.find((f) => readFileSync(f, 'utf8').includes(ofA.image))!;
    expect(readFileSync(fileOfA, 'utf8')).not.toContain(ofB.image);

    await cluster.remove(renderManifests(ofB));
    expect(files()).toEqual([fileOfA]);
    expect(readFileSync(fileOfA, 'utf8')).toContain(ofA.image);
  });

  it("refuses to overwrite or delete a file that holds another tenant's workload", async () => {
    const a = renderManifests(ofA);
    await cluster.deploy(a);
    const [file] = files();
    const before = readFileSync(file!, 'utf8');
    const forged = underNamesOf(a, renderManifests(ofB));

    await expect(cluster.deploy(forged)).rejects.toMatchObject({
      code: 'state.conflict',
      message: expect.stringContaining('another tenant'),
    });
    await expect(cluster.remove(forged)).rejects.toMatchObject({ code: 'state.conflict' });
    expect(files()).toEqual([file]);
    expect(readFileSync(file!, 'utf8')).toBe(before);
  });

  it('refuses to touch a file at its path that is not manifests Aion wrote', async () => {
    const a = renderManifests(ofA);
    await cluster.deploy(a);
    const [file] = files();
    for (const foreign of ['hand: [written', 'kind: ConfigMap\nmetadata: { name: x }\n']) {
      writeFileSync(file!, foreign);
      await expect(cluster.deploy(a)).rejects.toMatchObject({ code: 'state.conflict' });
      await expect(cluster.remove(a)).rejects.toMatchObject({ code: 'state.conflict' });
      expect(readFileSync(file!, 'utf8')).toBe(foreign);
    }
  });

  it('rewrites and removes its own deployment, and tolerates a file already gone', async () => {
    const a = renderManifests(ofA);
    await cluster.deploy(a);
    await cluster.deploy(renderManifests({ ...ofA, replicas: 3 }));
    const [file] = files();
    expect(readFileSync(file!, 'utf8')).toContain('replicas: 3');
    await cluster.remove(a);
    expect(files()).toEqual([]);
    await expect(cluster.remove(a)).resolves.toBeUndefined();
  });
});
