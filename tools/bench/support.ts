/**
 * What the end-to-end benchmarks share: the local infrastructure, production bundles of the
 * services, helper processes, and an open-loop load generator. The drivers run under tsx; what
 * they measure runs as bundles in processes of its own.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { build } from 'esbuild';
import {
  createTestDatabase,
  startServiceProcess,
  type ServiceProcess,
  type TestDatabase,
  testKafkaTopicEnv,
} from '@aion/testing';
import { cpuPerRequest, cpuSnapshot, type ProcessGroups } from './cpu';

const root = path.resolve(__dirname, '..', '..');

/** PostgreSQL, Redis and Kafka from `npm run infra:up` (read from .infra/env when not exported). */
export function loadInfraEnv(): void {
  if (process.env['AION_TEST_PG_ADMIN_URL'] && process.env['KAFKA_BROKERS']) return;
  const file = path.join(root, '.infra', 'env');
  if (!existsSync(file))
    throw new Error('benchmarks need the local infrastructure: run `npm run infra:up` first');
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const match = /^export (\w+)='(.*)'$/.exec(line.trim());
    if (match) process.env[match[1]!] = match[2]!;
  }
}

export function bundleServices(apps: string[]): void {
  for (const app of apps)
    execFileSync(
      process.execPath,
      [path.join(root, 'tools', 'build', 'bundle.mjs'), `apps/${app}`],
      {
        cwd: root,
        stdio: 'pipe',
      },
    );
}

/** Bundles a helper (tools/bench/processes/<name>.ts), starts it and reads its first JSON line. */
export async function startHelper(
  name: string,
  args: string[],
): Promise<{ info: Record<string, string>; child: ChildProcess }> {
  const outdir = mkdtempSync(path.join(tmpdir(), 'aion-bench-helper-'));
  await build({
    absWorkingDir: root,
    entryPoints: [path.join(root, 'tools', 'bench', 'processes', `${name}.ts`)],
    outfile: path.join(outdir, `${name}.js`),
    bundle: true,
    platform: 'node',
    target: 'node20.19',
    format: 'cjs',
    packages: 'external',
    tsconfig: path.join(root, 'tsconfig.base.json'),
    logLevel: 'warning',
  });
  const child = spawn(process.execPath, [path.join(outdir, `${name}.js`), ...args], {
    cwd: root,
    env: { ...process.env, NODE_PATH: path.join(root, 'node_modules') },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const info = await new Promise<Record<string, string>>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`${name} exited with ${code}`)));
    child.stdout!.once('data', (chunk: Buffer) =>
      resolve(JSON.parse(chunk.toString('utf8').split('\n')[0]!) as Record<string, string>),
    );
  });
  return { info, child };
}

export interface Stack {
  gateway: string;
  adminKey: string;
  /** The services and the infrastructure, for CPU accounting (the load generator is `bench`). */
  processes: ProcessGroups;
  stop(): Promise<void>;
}

/**
 * Module-host, sovereign-ai, orchestrator and gateway as separate production processes on PostgreSQL, Redis
 * and Kafka, with the given engines file. Rate limits are raised far above the offered load (the
 * limiter still runs its Redis script on every request).
 */
export async function startStack(enginesFile: string): Promise<Stack> {
  loadInfraEnv();
  bundleServices(['module-host', 'sovereign-ai', 'orchestrator', 'gateway']);
  const db: TestDatabase = await createTestDatabase('bench');
  execFileSync(process.execPath, ['--import', 'tsx', 'libs/db/src/cli.ts', 'migrate'], {
    cwd: root,
    env: { PATH: process.env['PATH'], DATABASE_URL: db.ownerUrl, AION_DB_APP_ROLE: db.appRole },
    stdio: 'pipe',
  });
  const secret = 'bench-internal-token-secret-0123456789abcdef';
  const adminKey = 'bench-bootstrap-admin-key-0123456789abcdef';
  const common = {
    AION_MODE: 'distributed',
    DATABASE_URL: db.appUrl,
    KAFKA_BROKERS: process.env['KAFKA_BROKERS'],
    // The test broker is one broker: topics with one replica.
    ...testKafkaTopicEnv(),
    REDIS_URL: process.env['REDIS_URL'],
    AION_INTERNAL_TOKEN_SECRET: secret,
  };
  const started: ServiceProcess[] = [];
  // A driver that dies (Ctrl-C, timeout) takes its services with it.
  process.once('exit', () => started.forEach((service) => service.kill('SIGKILL')));
  for (const signal of ['SIGINT', 'SIGTERM'] as const)
    process.once(signal, () => process.exit(130));
  const start = async (app: string, env: Record<string, string | undefined>) => {
    // AION_BENCH_PROFILE=<app>: write a V8 CPU profile of that service to .bench-profiles/.
    // AION_BENCH_NODE_ARGS: extra Node.js/V8 flags for every service (runtime tuning trials).
    const nodeArgs = [
      ...(process.env['AION_BENCH_NODE_ARGS']?.split(' ').filter(Boolean) ?? []),
      ...(process.env['AION_BENCH_PROFILE'] === app
        ? ['--cpu-prof', `--cpu-prof-dir=${path.join(root, '.bench-profiles')}`]
        : []),
    ];
    const service = await startServiceProcess(app, { ...common, ...env }, 90_000, {
      nodeArgs,
      bundled: true,
    });
    started.push(service);
    return service;
  };
  const moduleHost = await start('module-host', {
    AION_MODULE_HOST_HTTP_PORT: '0',
    AION_MODULE_HOST_GRPC_PORT: '0',
    AION_MODULE_HOST_PRELOAD: path.join(root, 'tools', 'modules', 'summarize_text'),
  });
  const sovereignAi = await start('sovereign-ai', {
    AION_SOVEREIGN_HTTP_PORT: '0',
    AION_SOVEREIGN_GRPC_PORT: '0',
  });
  const orchestrator = await start('orchestrator', {
    AION_ORCHESTRATOR_SOVEREIGN_ADDRESS: `127.0.0.1:${sovereignAi.grpcPort}`,
    AION_ORCHESTRATOR_HTTP_PORT: '0',
    AION_ORCHESTRATOR_GRPC_PORT: '0',
    AION_ORCHESTRATOR_MODULE_HOST_ADDRESS: `127.0.0.1:${moduleHost.grpcPort}`,
    AION_ORCHESTRATOR_ENGINES_FILE: enginesFile,
  });
  const gateway = await start('gateway', {
    AION_GATEWAY_HTTP_PORT: '0',
    AION_GATEWAY_GRPC_PORT: '0',
    AION_GATEWAY_ORCHESTRATOR_ADDRESS: `127.0.0.1:${orchestrator.grpcPort}`,
    AION_GATEWAY_SOVEREIGN_ADDRESS: `127.0.0.1:${sovereignAi.grpcPort}`,
    AION_BOOTSTRAP_ADMIN_KEY: adminKey,
    AION_BOOTSTRAP_TENANT: `bench-${Date.now()}`,
    AION_GATEWAY_RATE_LIMIT_KEY_PER_MINUTE: '10000000',
    AION_GATEWAY_RATE_LIMIT_KEY_BURST: '10000000',
    AION_GATEWAY_RATE_LIMIT_IP_PER_MINUTE: '10000000',
    AION_GATEWAY_MAX_IN_FLIGHT: '4096',
  });
  const pidOf = (service: ServiceProcess) => (service.child.pid ? [service.child.pid] : []);
  return {
    gateway: `http://127.0.0.1:${gateway.httpPort}`,
    adminKey,
    processes: {
      gateway: pidOf(gateway),
      orchestrator: pidOf(orchestrator),
      'module-host': pidOf(moduleHost),
      'sovereign-ai': pidOf(sovereignAi),
      postgres: /^postgres[: ]|bin\/postgres /,
      redis: /^redis-server /,
      kafka: /kafka\.Kafka|kafka-server|KafkaRaftServer|org\.apache\.kafka/,
      bench: [process.pid],
    },
    stop: async () => {
      for (const service of started.reverse()) {
        service.kill('SIGTERM');
        await service.exited;
      }
      await db.drop();
    },
  };
}

export interface LoadResult {
  offered_rps: number | 'max';
  achieved_rps: number;
  requests: number;
  /** Answers with another status than expected (a 202 for a task not finished in time). */
  non_2xx: number;
  /** The unexpected statuses counted, each with the first body answered (what to look at). */
  unexpected?: Record<string, { count: number; first_body: string }>;
  /** Answers with the expected status whose body says the work failed (a task ending in ERROR). */
  failed: number;
  errors: number;
  p50_ms: number;
  p95_ms: number;
  p99_ms: number;
  max_ms: number;
  /** CPU milliseconds per completed request by process group, when groups were given. */
  cpu_ms_per_request?: Record<string, number>;
}

const percentile = (sorted: Float64Array, p: number) =>
  sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)]! : NaN;
const round = (n: number) => Math.round(n * 100) / 100;

/**
 * One POST over a keep-alive agent; resolves with the status (0 on a transport error) and, when
 * asked for, the body.
 */
function post(
  agent: http.Agent,
  url: URL,
  headers: Record<string, string>,
  body: string,
  keepBody: boolean,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const req = http.request(
      url,
      { method: 'POST', agent, headers: { ...headers, 'content-length': Buffer.byteLength(body) } },
      (res) => {
        const chunks: Buffer[] = [];
        // Bodies of unexpected answers are kept too: the report quotes the first of each status.
        const keep = keepBody || res.statusCode !== 200;
        res.on('data', (chunk: Buffer) => keep && chunks.push(chunk));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
        );
        res.on('error', () => resolve({ status: 0, body: '' }));
      },
    );
    req.setTimeout(30_000, () => req.destroy());
    req.on('error', () => resolve({ status: 0, body: '' }));
    req.end(body);
  });
}

/**
 * Open-loop load at a fixed rate (requests start on schedule whether or not earlier ones
 * finished, latency counted from the scheduled start, so queueing is not hidden), or
 * closed-loop with `connections` clients when no rate is given. autocannon's rate limiting sends
 * each second's requests in a burst, which measures burst queueing instead of steady latency.
 */
export async function runLoad(options: {
  url: string;
  body: string;
  headers: Record<string, string>;
  rate?: number;
  connections: number;
  durationSeconds: number;
  /** The status a successful request answers (default 200); anything else counts as failed. */
  expectStatus?: number;
  /** Whether an answer with the expected status did the work (say, a task that ended OK). */
  succeeded?: (body: string) => boolean;
  /** Processes whose CPU time per request to report. */
  cpu?: ProcessGroups;
}): Promise<LoadResult> {
  const url = new URL(options.url);
  const headers = { 'content-type': 'application/json', ...options.headers };
  const agent = new http.Agent({
    keepAlive: true,
    maxSockets: options.rate ? 1024 : options.connections,
  });
  const times: number[] = [];
  let non2xx = 0;
  let failed = 0;
  let errors = 0;
  let lastDone = 0;
  const unexpected: Record<string, { count: number; first_body: string }> = {};
  const record = ({ status, body }: { status: number; body: string }, started: number) => {
    lastDone = performance.now();
    times.push(lastDone - started);
    if (status === 0) errors++;
    else if (status !== (options.expectStatus ?? 200)) {
      non2xx++;
      (unexpected[status] ??= { count: 0, first_body: body.slice(0, 300) }).count++;
    } else if (options.succeeded && !options.succeeded(body)) failed++;
  };
  const send = () => post(agent, url, headers, options.body, Boolean(options.succeeded));
  const cpuBefore = options.cpu && cpuSnapshot(options.cpu);
  const started = performance.now();
  const end = started + options.durationSeconds * 1000;
  const inFlight = new Set<Promise<void>>();
  if (options.rate) {
    const interval = 1000 / options.rate;
    for (let i = 0; ; i++) {
      const due = started + i * interval;
      if (due >= end) break;
      const wait = due - performance.now();
      if (wait > 1) await new Promise((r) => setTimeout(r, wait));
      const request = send().then((answer) => record(answer, due));
      inFlight.add(request);
      void request.then(() => inFlight.delete(request));
    }
  } else {
    await Promise.all(
      Array.from({ length: options.connections }, async () => {
        while (performance.now() < end) {
          const at = performance.now();
          record(await send(), at);
        }
      }),
    );
  }
  await Promise.all(inFlight);
  const cpuUsed =
    options.cpu && cpuBefore && cpuPerRequest(cpuBefore, cpuSnapshot(options.cpu), times.length);
  agent.destroy();
  const sorted = Float64Array.from(times).sort();
  return {
    offered_rps: options.rate ?? 'max',
    // Completions over the time until the last one: a backlog drained after the window counts
    // against the rate, not for it.
    achieved_rps: round(times.length / (Math.max(lastDone - started, 1) / 1000)),
    requests: times.length,
    non_2xx: non2xx,
    ...(non2xx ? { unexpected } : {}),
    failed,
    errors,
    p50_ms: round(percentile(sorted, 0.5)),
    p95_ms: round(percentile(sorted, 0.95)),
    p99_ms: round(percentile(sorted, 0.99)),
    max_ms: round(percentile(sorted, 1)),
    ...(cpuUsed ? { cpu_ms_per_request: cpuUsed } : {}),
  };
}
