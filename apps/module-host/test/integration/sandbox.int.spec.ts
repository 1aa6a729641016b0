import { execFileSync } from 'node:child_process';
import { Worker } from 'node:worker_threads';
import { createHash } from 'node:crypto';
import {
  cpSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'drizzle-orm';
import { Registry } from 'prom-client';
import { create as createTar } from 'tar';
import { parse as parseYaml } from 'yaml';
import { migratePglite, openPglite, type Database } from '@aion/db';
import { AionError } from '@aion/errors';
import { OutboxWriter } from '@aion/events';
import { PostgresPackageRepository } from '../../src/adapters/db/package-repository';
import { outbox } from '../../src/adapters/db/schema';
import {
  readPackageDirectory,
  readPackageTarball,
} from '../../src/adapters/packages/package-reader';
import { packageSources } from '../../src/adapters/packages/package-sources';
import { registerSandboxMetrics } from '../../src/adapters/sandbox/sandbox-metrics';
import { WorkerPool } from '../../src/adapters/sandbox/worker-pool';
import { PackageService } from '../../src/core/package-service';
import { BLUEPRINT_TEMPLATE, blueprintPackageFiles } from '../fixtures/blueprint-package';

const repoRoot = path.resolve(__dirname, '..', '..', '..', '..');
const samples = path.join(repoRoot, 'tools', 'modules');
const fixture = path.join(__dirname, '..', 'fixtures', 'escape');
const scratch = mkdtempSync(path.join(os.tmpdir(), 'aion-mod-'));

/** Copies the probe fixture and builds it with the given linker flags (tests build what they need). */
function probePackage(
  name: string,
  options: { maxMemoryMb?: number | null; manifest?: (text: string) => string } = {},
): string {
  const dir = path.join(scratch, name);
  cpSync(fixture, dir, { recursive: true });
  const flags =
    options.maxMemoryMb === null
      ? []
      : [`-Wl,--max-memory=${(options.maxMemoryMb ?? 16) * 1024 * 1024}`];
  execFileSync(
    'clang',
    [
      '--target=wasm32-wasi',
      '-O1',
      '-std=c11',
      '-D_GNU_SOURCE',
      '-I',
      path.join(samples, 'common'),
      ...flags,
      '-o',
      path.join(dir, 'build', 'probe.wasm'),
      path.join(dir, 'probe.c'),
      path.join(samples, 'common', 'aion_module.c'),
    ],
    { stdio: 'pipe' },
  );
  if (options.manifest)
    writeFileSync(
      path.join(dir, 'aion.yaml'),
      options.manifest(readFileSync(path.join(dir, 'aion.yaml'), 'utf8')),
    );
  return dir;
}

/**
 * A package directory with the blueprint's manifest (or a variant of it), its schema files, the
 * sample summarize_text module (built with a 16 MiB memory maximum) and its stopwords file.
 */
function blueprintPackage(name: string, manifest = BLUEPRINT_TEMPLATE): string {
  const dir = path.join(scratch, name);
  for (const [file, content] of blueprintPackageFiles(manifest)) {
    mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    writeFileSync(path.join(dir, file), content);
  }
  const sample = path.join(samples, 'summarize_text');
  cpSync(path.join(sample, 'build', 'summarize_text.wasm'), path.join(dir, 'summarize_text.wasm'));
  cpSync(path.join(sample, 'data'), path.join(dir, 'data'), { recursive: true });
  return dir;
}

let database: Database;
let pool: WorkerPool;
let service: PackageService;

beforeAll(async () => {
  database = await openPglite();
  await migratePglite(
    database,
    [{ folder: path.join(repoRoot, 'apps/module-host/migrations'), prefix: 'mod' }],
    { appRole: 'aion_app' },
  );
  pool = new WorkerPool({
    size: 2,
    maxQueue: 8,
    maxStdoutBytes: 256 * 1024,
    maxStderrBytes: 64 * 1024,
  });
  service = new PackageService(
    new PostgresPackageRepository(database.db, new OutboxWriter(outbox, 'aion/module-host')),
    pool,
  );
  for (const name of ['summarize_text', 'redact_pii', 'classify_intent'])
    await service.install(await readPackageDirectory(path.join(samples, name)));
  await service.install(await readPackageDirectory(probePackage('probe')));
}, 120_000);

afterAll(async () => {
  await pool.close();
  await database.close();
  rmSync(scratch, { recursive: true, force: true });
});

const probe = (mode: string) =>
  service
    .invoke({ name: 'escape_probe', input: { mode } })
    .then((r) => (r.output as { result: string }).result);

describe('sample packages', () => {
  it('summarize_text returns the best sentences in order, with partial results', async () => {
    const partials: string[] = [];
    const text =
      'Aion routes every task to an engine its tenant allows. The weather was pleasant. Every routing decision names the rule that decided it. Budgets stop tenants from overspending on engines. Engines report latency back to the router.';
    const result = await service.invoke({
      name: 'summarize_text',
      input: { text, max_sentences: 2 },
      onPartial: (p) => partials.push(p),
    });
    const output = result.output as {
      summary: string;
      sentences: string[];
      selected_indices: number[];
      sentence_count: number;
    };
    expect(output.sentence_count).toBe(5);
    expect(output.sentences).toHaveLength(2);
    expect(output.selected_indices).toEqual([...output.selected_indices].sort((a, b) => a - b));
    expect(output.summary).not.toContain('weather');
    expect(partials.map((p) => JSON.parse(p))).toEqual(output.sentences);
    expect(result.package).toEqual({ name: 'summarize_text', version: '1.0.0' });
  });

  it('redact_pii masks emails, phones, valid IBANs and Luhn-valid cards only', async () => {
    const text =
      'Write to ada@example.org or +44 20 7946 0958. Pay DE89 3704 0044 0532 0130 00 with 4111 1111 1111 1111, not 4111 1111 1111 1112 or DE00 3704 0044 0532 0130 00.';
    const { output } = await service.invoke({ name: 'redact_pii', input: { text } });
    const o = output as { redacted: string; counts: Record<string, number> };
    expect(o.redacted).toBe(
      'Write to [EMAIL] or [PHONE]. Pay [IBAN] with [CARD], not 4111 1111 1111 1112 or DE00 3704 0044 0532 0130 00.',
    );
    expect(o.counts).toEqual({ email: 1, iban: 1, card: 1, phone: 1 });
  });

  it('classify_intent names the intent', async () => {
    const intent = async (text: string) =>
      (
        (await service.invoke({ name: 'classify_intent', input: { text } })).output as {
          intent: string;
        }
      ).intent;
    expect(await intent('Can you summarize this memo into key points?')).toBe('summarize');
    expect(await intent('Please redact all personal data before sharing')).toBe('redact');
    expect(await intent('Translate this paragraph into German')).toBe('translate');
    expect(await intent('Why is the sky blue?')).toBe('chat');
  });

  it('lists by intent and describes with the manifest', async () => {
    const { items, total } = await service.list({ intent: 'redact', limit: 10, offset: 0 });
    expect(total).toBe(1);
    expect(items[0]!.name).toBe('redact_pii');
    const described = await service.describe('summarize_text');
    expect(described.manifest.permissions.filesystem).toEqual(['data/stopwords.txt']);
    expect(described.manifest.runtime.resources).toEqual({ memory_bytes: 16 * 1024 * 1024 });
  });
});

describe('sandbox escapes fail safely', () => {
  it.each([
    ['read_undeclared', /^denied/],
    ['read_absolute', /^denied/],
    ['read_dotdot', /^denied/],
    ['read_relative_dotdot', /^denied/],
    ['read_proc', /^denied/],
    ['write_file', /^denied$/],
    ['create_file', /^denied$/],
    ['env', /^no-env$/],
    ['memory_grow_raw', /^grow-refused$/],
  ])('%s is refused', async (mode, expected) => {
    expect(await probe(mode)).toMatch(expected);
  });

  it('reads a file the manifest declares', async () => {
    expect(await probe('read_declared')).toBe('read:hello from a declared file\n');
  });

  it('stops memory growth at the declared maximum', async () => {
    expect(await probe('memory_grow')).toMatch(/^stopped-at-1[0-5]-MiB$/);
  });

  it('terminates a busy loop at the timeout while other invocations keep being served', async () => {
    const started = Date.now();
    const looping = service.invoke({ name: 'escape_probe', input: { mode: 'busy_loop' } });
    const other = service.invoke({ name: 'classify_intent', input: { text: 'summarize this' } });
    await expect(looping).rejects.toMatchObject({ code: 'service.timeout' });
    expect(Date.now() - started).toBeLessThan(3000);
    expect(((await other).output as { intent: string }).intent).toBe('summarize');
    expect(await probe('read_declared')).toMatch(/^read:/);
  });

  it('refuses a module that floods stdout, one that traps, exits non-zero or writes garbage', async () => {
    await expect(probe('flood')).rejects.toThrow(/more than 262144 bytes to stdout/);
    await expect(probe('trap')).rejects.toThrow(/trapped/);
    const exit = await probe('exit_code').catch((e: AionError) => e);
    expect(exit).toMatchObject({
      code: 'validation.unprocessable',
      message: 'module escape_probe exited with code 7',
    });
    expect((exit as AionError).details?.[0]?.message).toContain('something went wrong');
    await expect(probe('not_json')).rejects.toThrow(/did not write one JSON document/);
    await expect(probe('wrong_shape')).rejects.toThrow(/does not match its output schema/);
  });

  it('validates input against the entrypoint schema', async () => {
    const err = await service
      .invoke({ name: 'summarize_text', input: { text: 42 } })
      .catch((e: AionError) => e);
    expect(err).toMatchObject({ code: 'validation.invalid_argument' });
    expect((err as AionError).details?.[0]?.field).toBe('text');
    await expect(
      service.invoke({ name: 'summarize_text', entrypoint: 'nope', input: {} }),
    ).rejects.toThrow(/no entrypoint nope/);
    await expect(service.invoke({ name: 'missing_module', input: {} })).rejects.toMatchObject({
      code: 'resource.not_found',
    });
  });
});

describe('install refuses what it cannot trust', () => {
  it('lists every manifest problem', async () => {
    const dir = probePackage('bad-manifest', {
      manifest: () =>
        'apiVersion: aionos/v2\nkind: AgentPackage\nmetadata: { name: "Bad Name", version: "one" }\nruntime: { type: wasm, wasi: preview1, module: build/probe.wasm, resources: { memory_mb: 16 } }\npermissions: { filesystem: ["../../etc/passwd"], network: ["0.0.0.0/0"], secrets: [] }\nentrypoints: []\nintents: [x1]\npolicies: { timeout_ms: 0, retries: 0 }\nsurprise: true\n',
    });
    const err = (await service
      .install(await readPackageDirectory(dir))
      .catch((e: AionError) => e)) as AionError;
    expect(err.code).toBe('validation.unprocessable');
    const fields = err.details!.map((d) => d.field);
    expect(fields).toEqual(
      expect.arrayContaining([
        '(root)',
        'apiVersion',
        'metadata.name',
        'metadata.version',
        'permissions.filesystem.0',
        'permissions.network',
        'entrypoints',
        'policies.timeout_ms',
      ]),
    );
    expect(err.details!.find((d) => d.field === 'permissions.network')!.message).toMatch(/network/);
  });

  it('refuses a module whose memory maximum exceeds the manifest limit, or that has none', async () => {
    const big = probePackage('big-memory', {
      maxMemoryMb: 64,
      manifest: (t) => t.replace('name: escape_probe', 'name: big_memory'),
    });
    await expect(service.install(await readPackageDirectory(big))).rejects.toMatchObject({
      details: [
        expect.objectContaining({ message: expect.stringMatching(/64 MiB.*limit of 16 MiB/) }),
      ],
    });
    const unbounded = probePackage('unbounded', {
      maxMemoryMb: null,
      manifest: (t) => t.replace('name: escape_probe', 'name: unbounded'),
    });
    await expect(service.install(await readPackageDirectory(unbounded))).rejects.toMatchObject({
      details: [expect.objectContaining({ message: expect.stringMatching(/no memory maximum/) })],
    });
  });

  it('refuses symbolic links in a package directory and in an archive, and escaping archive paths', async () => {
    const linked = probePackage('linked');
    symlinkSync('/etc/passwd', path.join(linked, 'data', 'passwd'));
    await expect(readPackageDirectory(linked)).rejects.toThrow(/symbolic link/);
    const tarball = path.join(scratch, 'linked.tgz');
    await createTar({ gzip: true, file: tarball, cwd: linked, portable: true }, [
      'aion.yaml',
      'data',
    ]);
    await expect(readPackageTarball(readFileSync(tarball))).rejects.toThrow(/SymbolicLink/);
    await expect(readPackageTarball(Buffer.from('definitely not a tarball'))).rejects.toMatchObject(
      { code: 'validation.invalid_argument' },
    );
  });

  it('refuses a declared file that is missing and an undeclared module path', async () => {
    const dir = probePackage('missing-file', {
      manifest: (t) =>
        t
          .replace(
            'filesystem: [data/allowed.txt]',
            'filesystem: [data/allowed.txt, data/gone.txt]',
          )
          .replace('build/probe.wasm', 'build/nope.wasm')
          .replace('name: escape_probe', 'name: missing_file'),
    });
    const err = (await service
      .install(await readPackageDirectory(dir))
      .catch((e: AionError) => e)) as AionError;
    expect(err.details!.map((d) => d.field).sort()).toEqual([
      'permissions.filesystem.1',
      'runtime.module',
    ]);
  });

  it('installs from an archive, refuses a second install of the same version, and audits installs', async () => {
    const dir = probePackage('archived', {
      manifest: (t) => t.replace('name: escape_probe', 'name: archived_probe'),
    });
    const tarball = path.join(scratch, 'archived.tgz');
    await createTar({ gzip: true, file: tarball, cwd: dir, portable: true }, [
      'aion.yaml',
      'build',
      'data',
    ]);
    const raw = await readPackageTarball(readFileSync(tarball));
    const installed = await service.install(raw);
    expect(installed.name).toBe('archived_probe');
    await expect(service.install(raw)).rejects.toMatchObject({ code: 'state.conflict' });
    expect((await service.install(raw, { ifAbsent: true })).id).toBe(installed.id);
    const audits = await database.db.transaction(async (tx) => {
      await tx.execute(sql`select set_config('aion.outbox_relay', 'on', true)`);
      return (await tx.execute(
        sql`select event_type, key from mod_outbox where key = 'archived_probe@1.0.0'`,
      )) as unknown as { rows: { event_type: string }[] };
    });
    expect(audits.rows.map((r) => r.event_type)).toEqual(['audit.recorded']);
    await service.uninstall('archived_probe');
    await expect(service.describe('archived_probe')).rejects.toMatchObject({
      code: 'resource.not_found',
    });
  });

  it('installs by path only under the configured roots', async () => {
    const sources = packageSources([samples]);
    await expect(sources.fromPath(path.join(samples, 'redact_pii'))).resolves.toBeTruthy();
    await expect(sources.fromPath(path.join(samples, '..', '..', 'apps'))).rejects.toMatchObject({
      code: 'auth.forbidden',
    });
    await expect(sources.fromPath('/etc')).rejects.toMatchObject({ code: 'auth.forbidden' });
  });
});

describe('the blueprint template (seed 004, 2.1) as a package', () => {
  const refusal = async (dir: string) =>
    (await service
      .install(await readPackageDirectory(dir))
      .catch((e: AionError) => e)) as AionError;

  it('installs with its manifest verbatim, keeps what it declares and runs with its schema files', async () => {
    const installed = await service.install(
      await readPackageDirectory(blueprintPackage('blueprint')),
    );
    try {
      expect(installed).toMatchObject({ name: 'summarize_text', version: '1.3.0' });
      const pkg = await service.describe('summarize_text', '1.3.0');
      expect(pkg.manifest.metadata).toMatchObject({
        signatures: { cosign: 'sigstore://ghcr.io/aion/summarize_text@sha256:...' },
        sbom: 'oci://ghcr.io/aion/sbom/summarize_text:1.3.0',
      });
      expect(pkg.manifest.runtime).toEqual({
        type: 'wasm',
        wasi: 'preview1',
        module: 'summarize_text.wasm',
        resources: {
          memory_bytes: 256 * 1024 * 1024,
          cpu_millis: 500,
          gpu: { required: false, vendor: 'none' },
        },
      });
      // read-only: the package's files, read-only, without the module itself.
      expect(pkg.manifest.permissions).toEqual({
        filesystem: [
          'aion.yaml',
          'data/stopwords.txt',
          'schemas/summarize_input.json',
          'schemas/summarize_output.json',
        ],
        network: [],
        secrets: ['OPENAI_API_KEY?'],
      });
      expect([...pkg.files.keys()].sort()).toEqual(pkg.manifest.permissions.filesystem);

      const result = await service.invoke({
        name: 'summarize_text',
        version: '1.3.0',
        input: {
          text: 'Receipts prove where a task ran. The sky was grey. Receipts name the rule that decided.',
          max_sentences: 1,
        },
      });
      expect(result.package).toEqual({ name: 'summarize_text', version: '1.3.0' });
      expect((result.output as { sentences: string[] }).sentences).toHaveLength(1);
      // The input schema read from schemas/summarize_input.json is enforced.
      await expect(
        service.invoke({ name: 'summarize_text', version: '1.3.0', input: { text: 42 } }),
      ).rejects.toMatchObject({ code: 'validation.invalid_argument' });
      await expect(
        service.install(await readPackageDirectory(blueprintPackage('blueprint-again'))),
      ).rejects.toMatchObject({ code: 'state.conflict' });
    } finally {
      await service.uninstall('summarize_text', '1.3.0');
    }
  });

  it('checks the module against the manifest memory limit in bytes', async () => {
    const err = await refusal(
      blueprintPackage('blueprint-8mi', BLUEPRINT_TEMPLATE.replace('"256Mi"', '"8Mi"')),
    );
    expect(err.details).toEqual([
      {
        field: 'runtime.resources',
        message: "module declares up to 16 MiB of memory, more than the manifest's limit of 8 MiB",
      },
    ]);
    const decimal = await refusal(
      blueprintPackage('blueprint-16m', BLUEPRINT_TEMPLATE.replace('"256Mi"', '"16M"')),
    );
    expect(decimal.details![0]!.message).toMatch(/limit of 16000000 bytes/);
  });

  it('refuses the template made unsafe, and a package missing a schema file', async () => {
    const unsafe = await refusal(
      blueprintPackage(
        'blueprint-unsafe',
        BLUEPRINT_TEMPLATE.replace('network: deny', 'network: allow')
          .replace('filesystem: read-only', 'filesystem: read-write')
          .replace('required: false', 'required: true'),
      ),
    );
    expect(unsafe).toMatchObject({
      code: 'validation.unprocessable',
      message: 'aion.yaml is invalid',
    });
    expect(unsafe.details!.map((d) => d.field).sort()).toEqual([
      'permissions.filesystem',
      'permissions.network',
      'runtime.resources.gpu.required',
    ]);
    const dir = blueprintPackage('blueprint-no-schema');
    rmSync(path.join(dir, 'schemas', 'summarize_output.json'));
    expect((await refusal(dir)).details).toEqual([
      {
        field: 'entrypoints.schema.output',
        message: 'schemas/summarize_output.json is not in the package',
      },
    ]);
  });

  it('keeps the digest of packages written in the original form, so preloads still recognise them', async () => {
    const sample = path.join(samples, 'summarize_text');
    const expected = createHash('sha256')
      .update(readFileSync(path.join(sample, 'build', 'summarize_text.wasm')))
      .update(JSON.stringify(parseYaml(readFileSync(path.join(sample, 'aion.yaml'), 'utf8'))))
      .digest('hex');
    expect((await service.describe('summarize_text', '1.0.0')).digestSha256).toBe(expected);
  });
});

describe('worker pool backpressure', () => {
  it('refuses invocations beyond its queue with service.unavailable', async () => {
    const small = new WorkerPool({
      size: 1,
      maxQueue: 0,
      maxStdoutBytes: 1024,
      maxStderrBytes: 1024,
    });
    const busy = new PackageService(
      new PostgresPackageRepository(database.db, new OutboxWriter(outbox, 'aion/module-host')),
      small,
    );
    const first = busy.invoke({ name: 'escape_probe', input: { mode: 'busy_loop' } });
    // Once the busy loop holds the only worker (compiling it takes a moment), nothing may queue.
    for (let waited = 0; small.busy === 0 && waited < 5000; waited += 10)
      await new Promise((resolve) => setTimeout(resolve, 10));
    await expect(
      busy.invoke({ name: 'classify_intent', input: { text: 'hi' } }),
    ).rejects.toMatchObject({ code: 'service.unavailable', retryAfterSeconds: 1 });
    await expect(first).rejects.toMatchObject({ code: 'service.timeout' });
    await small.close();
  });

  it('exports the invocations waiting for a worker as aion_module_queue_depth', async () => {
    const small = new WorkerPool({
      size: 1,
      maxQueue: 4,
      maxStdoutBytes: 1024,
      maxStderrBytes: 1024,
    });
    const registry = new Registry();
    registerSandboxMetrics(registry, 'cpu', { queued: () => small.queued, limits: 'rlimit' });
    const depth = async () =>
      Number(/^aion_module_queue_depth\{pool="cpu"\} (\d+)$/m.exec(await registry.metrics())?.[1]);
    const busy = new PackageService(
      new PostgresPackageRepository(database.db, new OutboxWriter(outbox, 'aion/module-host')),
      small,
    );
    expect(await depth()).toBe(0);
    const first = busy.invoke({ name: 'escape_probe', input: { mode: 'busy_loop' } });
    for (let waited = 0; small.busy === 0 && waited < 5000; waited += 10)
      await new Promise((resolve) => setTimeout(resolve, 10));
    const waiting = [1, 2].map(() =>
      busy.invoke({ name: 'classify_intent', input: { text: 'hi' } }),
    );
    // Each reaches the pool after its package lookup; then both wait for the one worker.
    for (let waited = 0; (await depth()) < 2 && waited < 5000; waited += 10)
      await new Promise((resolve) => setTimeout(resolve, 10));
    expect(await depth()).toBe(2);
    await expect(first).rejects.toMatchObject({ code: 'service.timeout' });
    await Promise.all(waiting);
    expect(await depth()).toBe(0);
    expect(await registry.metrics()).toContain(
      'aion_module_host_sandbox_limits_info{pool="cpu",limits="rlimit"} 1',
    );
    await small.close();
  });

  it('sends each package to a worker once, keeps packages apart by key, and resends after a new worker', async () => {
    const one = new WorkerPool({
      size: 1,
      maxQueue: 8,
      maxStdoutBytes: 1024,
      maxStderrBytes: 1024,
    });
    const pkg = await service.describe('escape_probe');
    const module = await WebAssembly.compile(pkg.wasm);
    const [declared] = [...pkg.files.keys()];
    const sent: boolean[] = [];
    // Watch what the pool sends its worker: whether a message carries the package.
    const original = Worker.prototype.postMessage;
    Worker.prototype.postMessage = function (this: Worker, message: unknown, ...rest: never[]) {
      sent.push(Boolean((message as { package?: unknown }).package));
      return original.call(this, message, ...rest);
    };
    const read = async (packageKey: string, content: string, timeoutMs = 2000) => {
      const result = await one.run({
        packageKey,
        module,
        args: [pkg.name, 'probe'],
        stdin: Buffer.from(JSON.stringify({ mode: 'read_declared' })),
        files: new Map([[declared!, Buffer.from(content)]]),
        timeoutMs,
      });
      if (!result.ok) throw new Error(result.message);
      return (JSON.parse(Buffer.from(result.stdout).toString()) as { result: string }).result;
    };
    try {
      expect(await read('install-1', 'first install\n')).toBe('read:first install\n');
      expect(await read('install-2', 'second install\n')).toBe('read:second install\n');
      // The worker answers from what it kept: the files given here are not sent again.
      expect(await read('install-1', 'ignored\n')).toBe('read:first install\n');
      expect(sent).toEqual([true, true, false]);
      // A run that times out replaces the worker; the fresh one is sent the package again.
      const stuck = await one
        .run({
          packageKey: 'install-1',
          module,
          args: [pkg.name, 'probe'],
          stdin: Buffer.from(JSON.stringify({ mode: 'busy_loop' })),
          files: pkg.files,
          timeoutMs: 200,
        })
        .catch((err: unknown) => err);
      expect(stuck).toMatchObject({ code: 'service.timeout' });
      expect(await read('install-1', 'after restart\n')).toBe('read:after restart\n');
      expect(sent).toEqual([true, true, false, false, true]);
    } finally {
      Worker.prototype.postMessage = original;
      await one.close();
    }
  });
});
