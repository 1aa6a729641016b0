import { readdirSync } from 'node:fs';
import os from 'node:os';
import { probeSandbox } from '../../src/adapters/sandbox/probe';

// The start-up probe (probe.ts) on this host, where bubblewrap is installed and may create
// namespaces: one real sandbox runs, and leaves nothing behind. Where the host cannot (masked
// /proc in a container), the images suite sees module-host refuse native modules
// (e2e/test/integration/images.int.spec.ts).

const leftovers = () => readdirSync(os.tmpdir()).filter((f) => f.startsWith('aion-sandbox-probe-'));

test('runs one sandbox through the same path as a module run, and cleans up', async () => {
  const before = leftovers();
  expect(await probeSandbox()).toEqual({ ok: true });
  expect(leftovers()).toEqual(before);
});

test('reports a sandbox that does not answer in time as unusable, with the reason', async () => {
  const probe = await probeSandbox(1);
  expect(probe).toEqual({ ok: false, reason: expect.stringMatching(/longer than 1 ms/) });
});
