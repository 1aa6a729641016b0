/**
 * The processes the chat benchmarks compare, each started as its users would: Portkey's
 * open-source gateway, LiteLLM's proxy (PyPI, plain mode), and Aion's launchers (`npm start`'s
 * embedded platform, the co-located profile on PostgreSQL, Redis and Kafka).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from '@aion/testing';

const root = path.resolve(__dirname, '..', '..');

export interface Peer {
  url: string;
  pid: number;
  stop(): void;
}

async function ready(url: string, child: ChildProcess, what: string, seconds = 120) {
  for (let i = 0; i < seconds * 4; i++) {
    if (child.exitCode !== null) throw new Error(`${what} exited with ${child.exitCode}`);
    if (
      await fetch(url).then(
        (r) => r.ok,
        () => false,
      )
    )
      return;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  child.kill('SIGKILL');
  throw new Error(`${what} did not become ready at ${url}`);
}

/** Portkey's open-source gateway (@portkey-ai/gateway, a devDependency), headless. */
export async function startPortkey(): Promise<Peer> {
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [
      path.join(root, 'node_modules', '@portkey-ai', 'gateway', 'build', 'start-server.js'),
      `--port=${port}`,
      '--headless',
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  await new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`portkey exited with ${code}`)));
    child.stdout!.on('data', (chunk: Buffer) => {
      if (chunk.toString('utf8').includes('Ready for connections')) resolve();
    });
  });
  return {
    url: `http://127.0.0.1:${port}`,
    pid: child.pid ?? 0,
    stop: () => child.kill('SIGTERM'),
  };
}

/**
 * LiteLLM's proxy in its plain mode (one worker, a master key, no database: its database layer
 * downloads Prisma engines at run time, which cannot work offline), installed from PyPI by
 * tools/bench/litellm.sh.
 */
export async function startLiteLlm(upstreamUrl: string, masterKey: string): Promise<Peer> {
  const binary = execFileSync('bash', [path.join(root, 'tools', 'bench', 'litellm.sh')], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  }).trim();
  const dir = mkdtempSync(path.join(tmpdir(), 'aion-bench-litellm-'));
  const config = path.join(dir, 'config.yaml');
  writeFileSync(
    config,
    [
      'model_list:',
      '  - model_name: test-model',
      '    litellm_params: { model: openai/test-model, api_base: "' +
        upstreamUrl +
        '", api_key: x }',
      'general_settings:',
      `  master_key: ${masterKey}`,
      'litellm_settings:',
      '  telemetry: false',
      '',
    ].join('\n'),
  );
  const port = await freePort();
  const child = spawn(binary, ['--config', config, '--port', String(port), '--num_workers', '1'], {
    // Without DATABASE_URL (the benchmark's infrastructure sets one): LiteLLM would take it for its
    // own database and start Prisma, which cannot run offline.
    env: {
      ...process.env,
      DATABASE_URL: undefined,
      LITELLM_LOG: 'ERROR',
      LITELLM_TELEMETRY: 'False',
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  // Its last words, should it not start.
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-2000)));
  const url = `http://127.0.0.1:${port}`;
  await ready(`${url}/health/liveliness`, child, 'litellm').catch((err: Error) => {
    throw new Error(`${err.message}: ${stderr}`);
  });
  return { url, pid: child.pid ?? 0, stop: () => child.kill('SIGTERM') };
}

/**
 * One of Aion's one-process launchers (tools/launcher/start-embedded.ts is `npm start`;
 * start-co-located.ts is the co-located profile on real infrastructure) on free ports.
 */
export async function startAionLauncher(
  launcher: 'start-embedded' | 'start-co-located',
  env: Record<string, string | undefined>,
): Promise<Peer & { ports: Record<string, number> }> {
  const names = [
    'GATEWAY_HTTP',
    'GATEWAY_OPS',
    'GATEWAY_GRPC',
    'ORCHESTRATOR_HTTP',
    'ORCHESTRATOR_GRPC',
    'SOVEREIGN_HTTP',
    'SOVEREIGN_GRPC',
    'MODULE_HOST_HTTP',
    'MODULE_HOST_GRPC',
    'PIPELINE_HTTP',
    'PIPELINE_GRPC',
    'OBSERVABILITY_HTTP',
    'OBSERVABILITY_GRPC',
  ];
  const ports = Object.fromEntries(
    await Promise.all(names.map(async (n) => [n, await freePort()] as const)),
  );
  const portEnv = Object.fromEntries(names.map((n) => [`AION_${n}_PORT`, String(ports[n])]));
  // AION_BENCH_PROFILE=<launcher>: a V8 CPU profile of it (every thread) in .bench-profiles/.
  const profile =
    process.env['AION_BENCH_PROFILE'] === launcher
      ? ['--cpu-prof', `--cpu-prof-dir=${path.join(root, '.bench-profiles')}`]
      : [];
  const child = spawn(
    process.execPath,
    [...profile, '--import', 'tsx', path.join('tools', 'launcher', `${launcher}.ts`)],
    {
      cwd: root,
      env: {
        ...process.env,
        ...portEnv,
        AION_GATEWAY_ORCHESTRATOR_ADDRESS: `127.0.0.1:${ports['ORCHESTRATOR_GRPC']}`,
        AION_GATEWAY_SOVEREIGN_ADDRESS: `127.0.0.1:${ports['SOVEREIGN_GRPC']}`,
        AION_ORCHESTRATOR_SOVEREIGN_ADDRESS: `127.0.0.1:${ports['SOVEREIGN_GRPC']}`,
        AION_ORCHESTRATOR_MODULE_HOST_ADDRESS: `127.0.0.1:${ports['MODULE_HOST_GRPC']}`,
        LOG_LEVEL: 'warn',
        // The benchmark measures the path, not the limits (the limiter still runs every time).
        AION_GATEWAY_RATE_LIMIT_KEY_PER_MINUTE: '10000000',
        AION_GATEWAY_RATE_LIMIT_KEY_BURST: '10000000',
        AION_GATEWAY_RATE_LIMIT_IP_PER_MINUTE: '10000000',
        AION_GATEWAY_MAX_IN_FLIGHT: '4096',
        ...env,
      },
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
  await ready(`http://127.0.0.1:${ports['GATEWAY_OPS']}/readyz`, child, launcher);
  return {
    url: `http://127.0.0.1:${ports['GATEWAY_HTTP']}`,
    pid: child.pid ?? 0,
    ports,
    stop: () => child.kill('SIGTERM'),
  };
}
