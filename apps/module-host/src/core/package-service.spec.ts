import { PackageService } from './package-service';
import type { PackageRepository, SandboxRunner, StoredPackage } from './ports';

/** Counts what the service reads; `installs` holds name -> current install. */
function fakeRepository() {
  const installs = new Map<string, StoredPackage>();
  // Every install ever made, readable by id (a lookup that began before a removal still sees it).
  const byId = new Map<string, StoredPackage>();
  const calls = { resolve: 0, findById: 0 };
  const repository: PackageRepository = {
    insert: async () => undefined,
    find: async (name) => installs.get(name),
    resolve: async (name) => {
      calls.resolve++;
      const id = installs.get(name)?.id;
      // Answers what it read before a concurrent change committed, as a slow query would.
      await new Promise((resolve) => setTimeout(resolve, 5));
      return id;
    },
    findById: async (id) => {
      calls.findById++;
      return byId.get(id) ?? [...installs.values()].find((p) => p.id === id);
    },
    list: async () => ({ items: [], total: 0 }),
    remove: async (name) => (installs.delete(name) ? 1 : 0),
  };
  return {
    repository,
    installs: {
      set: (name: string, pkg: StoredPackage) =>
        installs.set(name, byId.set(pkg.id, pkg).get(pkg.id)!),
    },
    calls,
  };
}

const install = (id: string): StoredPackage =>
  ({ id, name: 'summarize_text', version: '1.0.0', files: new Map() }) as StoredPackage;
const noSandbox = {} as SandboxRunner;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('PackageService.describe', () => {
  it('serves callers arriving together with one lookup', async () => {
    const { repository, installs, calls } = fakeRepository();
    installs.set('summarize_text', install('a'));
    const service = new PackageService(repository, noSandbox, 60_000);
    const all = await Promise.all(
      Array.from({ length: 20 }, () => service.describe('summarize_text')),
    );
    expect(new Set(all.map((p) => p.id))).toEqual(new Set(['a']));
    expect(calls).toEqual({ resolve: 1, findById: 1 });
  });

  it('after the cache time re-reads only the id while the install is unchanged, and the new install once it changed', async () => {
    const { repository, installs, calls } = fakeRepository();
    installs.set('summarize_text', install('a'));
    const service = new PackageService(repository, noSandbox, 20);
    await service.describe('summarize_text');
    await sleep(30);
    expect((await service.describe('summarize_text')).id).toBe('a');
    expect(calls).toEqual({ resolve: 2, findById: 1 });
    installs.set('summarize_text', install('b')); // reinstalled through another replica
    await sleep(30);
    expect((await service.describe('summarize_text')).id).toBe('b');
    expect(calls).toEqual({ resolve: 3, findById: 2 });
  });

  it('forgets at once what is uninstalled through it, even with a lookup in flight', async () => {
    const { repository, installs } = fakeRepository();
    installs.set('summarize_text', install('a'));
    const service = new PackageService(repository, noSandbox, 60_000);
    const inFlight = service.describe('summarize_text');
    await service.uninstall('summarize_text');
    expect((await inFlight).id).toBe('a'); // read before the uninstall; not kept
    await expect(service.describe('summarize_text')).rejects.toMatchObject({
      code: 'resource.not_found',
    });
  });
});
