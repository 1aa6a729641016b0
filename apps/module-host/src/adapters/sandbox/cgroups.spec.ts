import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { decideLimits, readCgroupFacts, RunCgroup, type CgroupFacts } from './cgroups';

// The fallback decision, on trees shaped like /sys/fs/cgroup (a unified host, a hybrid one, one
// without cgroups); the kernel's enforcement itself is covered by the escape suite
// (test/integration/subprocess-sandbox.int.spec.ts) on this host's real cgroups.
let root: string;

beforeEach(() => {
  root = mkdtempSync(path.join(os.tmpdir(), 'aion-cgroup-'));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

function files(dir: string, entries: Record<string, string>) {
  mkdirSync(dir, { recursive: true });
  for (const [name, text] of Object.entries(entries)) writeFileSync(path.join(dir, name), text);
}

const v2 = (over: Partial<NonNullable<CgroupFacts['v2']>> = {}): CgroupFacts => ({
  v1: {},
  v2: {
    dir: '/sys/fs/cgroup/svc',
    controllers: ['cpu', 'memory', 'pids'],
    subtreeControl: ['cpu', 'memory', 'pids'],
    writable: true,
    ...over,
  },
});

test('cgroup v2 where memory and pids are delegated below module-host', () => {
  expect(decideLimits(v2())).toMatchObject({
    mechanism: 'cgroup2',
    base: '/sys/fs/cgroup/svc',
    cpu: true,
  });
  expect(decideLimits(v2({ subtreeControl: ['memory', 'pids'] }))).toMatchObject({
    mechanism: 'cgroup2',
    cpu: false,
  });
});

test('rlimits where v2 is not delegated, saying why', () => {
  expect(decideLimits(v2({ writable: false }))).toEqual({
    mechanism: 'rlimit',
    reason: expect.stringMatching(/not writable \(not delegated\)/),
  });
  expect(decideLimits(v2({ subtreeControl: ['memory'] }))).toEqual({
    mechanism: 'rlimit',
    reason: expect.stringMatching(/does not delegate pids/),
  });
  // A unified host is not looked at as v1 even if v1 facts were there.
  expect(
    decideLimits({
      ...v2({ subtreeControl: [] }),
      v1: { memory: { dir: '/m', writable: true }, pids: { dir: '/p', writable: true } },
    }).mechanism,
  ).toBe('rlimit');
});

test('cgroup v1 on a hybrid host where memory and pids are writable, else rlimits', () => {
  const writable = (dir: string) => ({ dir, writable: true });
  expect(decideLimits({ v1: { memory: writable('/m'), pids: writable('/p') } })).toMatchObject({
    mechanism: 'cgroup1',
    bases: { memory: '/m', pids: '/p' },
  });
  expect(
    decideLimits({ v1: { memory: writable('/m'), pids: writable('/p'), cpu: writable('/c') } }),
  ).toMatchObject({ bases: { cpu: '/c' } });
  expect(
    decideLimits({ v1: { memory: writable('/m'), pids: { dir: '/p', writable: false } } }),
  ).toEqual({ mechanism: 'rlimit', reason: expect.stringMatching(/not writable/) });
  expect(decideLimits({ v1: { memory: writable('/m') } }).mechanism).toBe('rlimit');
  expect(decideLimits({ v1: {} })).toEqual({
    mechanism: 'rlimit',
    reason: expect.stringMatching(/no cgroup v2 hierarchy and no cgroup v1/),
  });
});

test('reads a unified host: module-host’s own cgroup from /proc/self/cgroup', () => {
  files(root, { 'cgroup.controllers': 'cpu memory pids\n', 'cgroup.procs': '' });
  files(path.join(root, 'system.slice/aion.service'), {
    'cgroup.controllers': 'cpu memory pids\n',
    'cgroup.subtree_control': 'memory pids\n',
    'cgroup.procs': '',
  });
  const facts = readCgroupFacts(root, '0::/system.slice/aion.service\n');
  expect(facts.v2).toEqual({
    dir: path.join(root, 'system.slice/aion.service'),
    controllers: ['cpu', 'memory', 'pids'],
    subtreeControl: ['memory', 'pids'],
    writable: true,
  });
  expect(decideLimits(facts).mechanism).toBe('cgroup2');
});

test('reads a hybrid host: the v1 hierarchies by controller (numbers are not controllers)', () => {
  files(path.join(root, 'unified'), { 'cgroup.controllers': '' });
  files(path.join(root, 'memory/job/7'), { 'cgroup.procs': '' });
  files(path.join(root, 'pids'), { 'cgroup.procs': '' });
  const facts = readCgroupFacts(
    root,
    '9:name=systemd:/\n8:pids:/\n4:memory:/job/7\n1:cpu,cpuacct:/\n0::/\n',
  );
  expect(facts).toEqual({
    v1: {
      memory: { dir: path.join(root, 'memory/job/7'), writable: true },
      pids: { dir: path.join(root, 'pids'), writable: true },
    },
  });
  expect(decideLimits(readCgroupFacts(path.join(root, 'absent'), '0::/\n')).mechanism).toBe(
    'rlimit',
  );
});

test("a run's cgroup is named by tenant and run id, and gets the manifest's limits", async () => {
  const name = RunCgroup.nameFor('tenant/a', 'req 1', 'x1');
  expect(name).toBe('aion-tenant_a-req_1-x1');
  // A plain directory stands in for the kernel's cgroup here: only what is written is checked.
  mkdirSync(path.join(root, 'svc'));
  const dir = path.join(root, 'svc', name);
  await expect(
    RunCgroup.create(
      { mechanism: 'cgroup2', base: path.join(root, 'svc'), cpu: true, reason: '' },
      name,
      { memoryBytes: 64 * 2 ** 20, maxProcesses: 16, cpuMillis: 500 },
    ),
  ).resolves.toBeInstanceOf(RunCgroup);
  const read = (f: string) => readFileSync(path.join(dir, f), 'utf8');
  expect(read('memory.max')).toBe(String(64 * 2 ** 20));
  expect(read('pids.max')).toBe('16');
  expect(read('cpu.max')).toBe('50000 100000');
  // Creating the same run's cgroup twice fails rather than sharing it.
  await expect(
    RunCgroup.create(
      { mechanism: 'cgroup2', base: path.join(root, 'svc'), cpu: true, reason: '' },
      name,
      { memoryBytes: 1, maxProcesses: 1 },
    ),
  ).rejects.toThrow(/EEXIST/);
});
