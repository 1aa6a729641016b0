import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { SecretFiles } from './secret-files';

let dir: string;
let secrets: SecretFiles;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'obs-secrets-'));
  await writeFile(path.join(dir, 'acme.langfuse'), 'sk-lf-acme\n');
  await writeFile(path.join(dir, 'acme-eu.langfuse'), 'sk-lf-acme-eu');
  await writeFile(path.join(dir, 'globex.langfuse'), 'sk-lf-globex');
  await writeFile(path.join(dir, 'acme.empty'), '');
  await writeFile(path.join(dir, 'acme.huge'), 'x'.repeat(4097));
  await mkdir(path.join(dir, 'acme.folder'));
  // As a mounted Kubernetes Secret lays its keys out: symbolic links into ..data/.
  await mkdir(path.join(dir, '..data'));
  await writeFile(path.join(dir, '..data', 'acme.rotated'), 'sk-lf-rotated');
  await symlink(path.join('..data', 'acme.rotated'), path.join(dir, 'acme.rotated'));
  secrets = new SecretFiles(dir);
});

afterAll(() => rm(dir, { recursive: true, force: true }));

describe('tenant secrets from a directory of files', () => {
  it("reads the tenant's own <tenant>.<name> file, without its final newline", async () => {
    expect(secrets.configured).toBe(true);
    await expect(secrets.read('acme', 'langfuse')).resolves.toBe('sk-lf-acme');
    await expect(secrets.read('acme-eu', 'langfuse')).resolves.toBe('sk-lf-acme-eu');
    await expect(secrets.read('acme', 'rotated')).resolves.toBe('sk-lf-rotated');
  });

  it("never reaches another tenant's secret, whatever the name says", async () => {
    for (const name of [
      '../globex.langfuse',
      '/globex.langfuse',
      'x/../../globex.langfuse',
      '.langfuse',
      '..data/acme.rotated',
    ])
      await expect(secrets.read('acme', name)).resolves.toBeUndefined();
    // A tenant id that could split differently or climb out is no tenant.
    for (const tenant of ['acme.x', '../acme', '', '.', 'globex/..'])
      await expect(secrets.read(tenant, 'langfuse')).resolves.toBeUndefined();
  });

  it('finds nothing for a missing, empty, oversized or non-file secret, or without a directory', async () => {
    for (const name of ['missing', 'empty', 'huge', 'folder'])
      await expect(secrets.read('acme', name)).resolves.toBeUndefined();
    const none = new SecretFiles(undefined);
    expect(none.configured).toBe(false);
    await expect(none.read('acme', 'langfuse')).resolves.toBeUndefined();
  });
});
