import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '@aion/testing/infra/processes';
import { startRegistry } from '@aion/testing/registry';
import {
  FulcioStandIn,
  RekorStandIn,
  signKeyless,
  trustedRootJson,
} from '@aion/testing/sigstore-standin';
import { attachBundle, MEDIA_TYPES, parseReference, RegistryClient } from '../../src';

// `npx aionctl` run as a process, as an operator runs it, against Debian's docker-registry.

const repoRoot = path.resolve(__dirname, '..', '..', '..', '..');
const sample = path.join(repoRoot, 'tools', 'modules', 'classify_intent');
const scratch = mkdtempSync(path.join(os.tmpdir(), 'aionctl-'));
let registry: { address: string; stop(): Promise<void> };

function aionctl(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      'npx',
      ['--no-install', 'aionctl', ...args],
      { cwd: repoRoot, timeout: 60_000, env: { ...process.env, ...env } },
      (err, stdout, stderr) =>
        resolve({
          code: err ? (typeof err.code === 'number' ? err.code : -1) : 0,
          stdout: stdout.toString(),
          stderr: stderr.toString(),
        }),
    );
  });
}

const json = (stdout: string) =>
  JSON.parse(stdout.trim().split('\n').pop()!) as Record<string, unknown>;

beforeAll(async () => {
  registry = await startRegistry(scratch, await freePort());
}, 60_000);

afterAll(async () => {
  await registry?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

test('--help, and bad usage exits 2', async () => {
  const help = await aionctl(['--help']);
  expect(help.code).toBe(0);
  expect(help.stdout).toMatch(/module push <dir>/);
  expect(help.stdout).toMatch(/receipt verify/);
  expect((await aionctl(['module', 'frobnicate'])).code).toBe(2);
  expect((await aionctl(['module', 'verify', 'not a reference', '--key', 'x'])).code).toBe(2);
  const receipt = await aionctl(['receipt', 'verify', 'missing.json']);
  expect(receipt.code).toBe(2);
  expect(receipt.stderr).toMatch(/usage: verify-receipt/);
}, 120_000);

test('key generate, build, push, sign, verify, list; verify refuses what is not signed by the key', async () => {
  const ref = `${registry.address}/modules/classify_intent:1.0.0`;
  const key = path.join(scratch, 'ops');
  const other = path.join(scratch, 'other');
  expect((await aionctl(['key', 'generate', key, '--json'])).code).toBe(0);
  expect((await aionctl(['key', 'generate', other])).code).toBe(0);

  const built = await aionctl(['module', 'build', sample, '--json']);
  expect(built.code).toBe(0);
  expect(json(built.stdout)).toMatchObject({ name: 'classify_intent', version: '1.0.0' });

  const pushed = await aionctl(['module', 'push', sample, ref, '--json']);
  expect(pushed.code).toBe(0);
  const digest = json(pushed.stdout).digest as string;
  expect(digest).toMatch(/^sha256:[a-f0-9]{64}$/);

  const unsigned = await aionctl(['module', 'verify', ref, '--key', `${key}.pub`, '--json']);
  expect(unsigned.code).toBe(1);
  expect(json(unsigned.stdout)).toMatchObject({ valid: false, reason: 'unsigned' });

  expect((await aionctl(['module', 'sign', ref, '--key', `${key}.key`])).code).toBe(0);
  const byDigest = `${registry.address}/modules/classify_intent@${digest}`;
  const valid = await aionctl(['module', 'verify', byDigest, '--key', `${key}.pub`, '--json']);
  expect(valid.code).toBe(0);
  expect(json(valid.stdout)).toMatchObject({ valid: true, digest, name: 'classify_intent' });

  const untrusted = await aionctl(['module', 'verify', ref, '--key', `${other}.pub`]);
  expect(untrusted.code).toBe(1);
  expect(untrusted.stdout).toMatch(/INVALID \(untrusted_key\)/);

  const listed = await aionctl([
    'module',
    'list',
    `${registry.address}/modules/classify_intent`,
    '--json',
  ]);
  expect(listed.code).toBe(0);
  expect(json(listed.stdout).tags).toEqual([{ tag: '1.0.0', digest }]);
}, 300_000);

test('verify keyless: the trusted identity under the trusted root passes, another is refused', async () => {
  // Fulcio and Rekor cannot run here (Trillian on MySQL, an OIDC issuer): a stand-in CA and log
  // make the certificate and log entry they would; the registry and aionctl are real.
  const fulcio = await FulcioStandIn.create();
  const rekor = new RekorStandIn();
  const root = path.join(scratch, 'trusted_root.json');
  writeFileSync(root, JSON.stringify(trustedRootJson([fulcio], [rekor])));
  const ref = `${registry.address}/modules/classify_intent:keyless`;
  const pushed = await aionctl(['module', 'push', sample, ref, '--json']);
  expect(pushed.code).toBe(0);
  const digest = json(pushed.stdout).digest as string;
  const client = new RegistryClient({ timeoutMs: 5000 });
  const parsed = parseReference(ref);
  const sboms = (await client.referrers(parsed, digest)).filter(
    (d) => d.artifactType === MEDIA_TYPES.cyclonedx,
  );
  for (const target of [digest, ...sboms.map((d) => d.digest)])
    await attachBundle(client, parsed, target, (bytes) =>
      signKeyless(bytes, { fulcio, rekor, identity: 'ci@acme.test', issuer: 'https://idp.test' }),
    );

  const verify = (...flags: string[]) =>
    aionctl(['module', 'verify', ref, '--trusted-root', root, ...flags, '--json']);
  const valid = await verify(
    '--certificate-identity',
    'ci@acme.test',
    '--certificate-oidc-issuer',
    'https://idp.test',
  );
  expect(valid.code).toBe(0);
  expect(json(valid.stdout)).toMatchObject({
    valid: true,
    digest,
    signed_by: 'ci@acme.test (https://idp.test)',
  });
  const byRegexp = await verify(
    '--certificate-identity-regexp',
    '.*@acme\\.test',
    '--certificate-oidc-issuer-regexp',
    'https://idp\\.(test|example)',
  );
  expect(byRegexp.code).toBe(0);
  const other = await verify(
    '--certificate-identity',
    'release@acme.test',
    '--certificate-oidc-issuer',
    'https://idp.test',
  );
  expect(other.code).toBe(1);
  expect(json(other.stdout)).toMatchObject({ valid: false, reason: 'untrusted_identity' });
  // Another deployment's root: the certificate does not chain to it.
  const elsewhere = path.join(scratch, 'other_root.json');
  writeFileSync(
    elsewhere,
    JSON.stringify(trustedRootJson([await FulcioStandIn.create('fulcio.other')], [rekor])),
  );
  const foreign = await aionctl([
    'module',
    'verify',
    ref,
    '--trusted-root',
    elsewhere,
    '--certificate-identity',
    'ci@acme.test',
    '--certificate-oidc-issuer',
    'https://idp.test',
    '--json',
  ]);
  expect(foreign.code).toBe(1);
  expect(json(foreign.stdout)).toMatchObject({ valid: false, reason: 'untrusted_ca' });
  // Bad usage: identity flags without a root, a root without identity flags.
  expect((await aionctl(['module', 'verify', ref, '--certificate-identity', 'x'])).code).toBe(2);
  expect((await verify()).code).toBe(2);
}, 300_000);

test('an unreachable registry or module host exits 3', async () => {
  const port = await freePort();
  const down = await aionctl([
    'module',
    'list',
    `127.0.0.1:${port}/modules/x`,
    '--timeout-ms',
    '2000',
  ]);
  expect(down.code).toBe(3);
  expect(down.stderr).toMatch(/unreachable/);
  writeFileSync(path.join(scratch, 'nothing'), '');
  const install = await aionctl(
    [
      'module',
      'install',
      `${registry.address}/modules/x:1`,
      '--module-host',
      `127.0.0.1:${port}`,
      '--timeout-ms',
      '2000',
    ],
    { AION_INTERNAL_TOKEN_SECRET: 'x'.repeat(40) },
  );
  expect(install.code).toBe(3);
  expect((await aionctl(['module', 'install', 'r/x:1'])).code).toBe(2);
}, 120_000);
