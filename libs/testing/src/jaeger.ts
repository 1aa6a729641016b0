import { execFileSync, spawn } from 'node:child_process';
import path from 'node:path';
import { freePort } from './infra/processes';
import { repoRoot } from './infra/stack';

export interface RunningJaeger {
  /** Where services send spans: OTEL_EXPORTER_OTLP_ENDPOINT (OTLP over HTTP). */
  otlpEndpoint: string;
  /** Jaeger's query service (GET /api/traces/{id}, /api/services). */
  queryUrl: string;
  stop(): Promise<void>;
}

/** Jaeger's query API answer for one trace: its spans and the process (service) of each. */
export interface JaegerTrace {
  traceID: string;
  spans: {
    spanID: string;
    operationName: string;
    processID: string;
    references: { refType: string; traceID: string; spanID: string }[];
  }[];
  processes: Record<string, { serviceName: string }>;
}

/**
 * The binary: AION_TEST_JAEGER (CI builds it before the tests), else built and cached by
 * tools/infra/jaeger.sh (minutes cold, once per version; nothing when cached).
 */
function jaegerBinary(): string {
  const given = process.env['AION_TEST_JAEGER'];
  if (given) return given;
  return execFileSync('bash', [path.join(repoRoot, 'tools/infra/jaeger.sh')], {
    encoding: 'utf8',
    timeout: 1_800_000,
    stdio: ['ignore', 'pipe', 'inherit'],
  })
    .trim()
    .split('\n')
    .pop()!;
}

/**
 * A real Jaeger all-in-one (collector with its OTLP receivers, in-memory storage, query service)
 * on loopback ports of its own, so suites running at the same time do not share one.
 */
export async function startJaeger(): Promise<RunningJaeger> {
  const binary = jaegerBinary();
  const [otlpHttp, otlpGrpc, collectorHttp, collectorGrpc, queryHttp, queryGrpc, admin] =
    await Promise.all(Array.from({ length: 7 }, () => freePort()));
  const at = (port: number | undefined) => `127.0.0.1:${port}`;
  let output = '';
  const child = spawn(
    binary,
    [
      `--collector.otlp.http.host-port=${at(otlpHttp)}`,
      `--collector.otlp.grpc.host-port=${at(otlpGrpc)}`,
      `--collector.http-server.host-port=${at(collectorHttp)}`,
      `--collector.grpc-server.host-port=${at(collectorGrpc)}`,
      `--query.http-server.host-port=${at(queryHttp)}`,
      `--query.grpc-server.host-port=${at(queryGrpc)}`,
      `--admin.http.host-port=${at(admin)}`,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, SPAN_STORAGE_TYPE: 'memory' } },
  );
  const keep = (chunk: Buffer) => (output = (output + chunk.toString()).slice(-5000));
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', (err) => reject(new Error(`jaeger did not start: ${err.message}`)));
  });
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await exited;
    }
  };
  const queryUrl = `http://${at(queryHttp)}`;
  const otlpEndpoint = `http://${at(otlpHttp)}`;
  // Ready when the query service answers and the OTLP receiver takes an (empty) export.
  const ready = async () => {
    const query = await fetch(`${queryUrl}/api/services`).then(
      (r) => r.ok,
      () => false,
    );
    if (!query) return false;
    return fetch(`${otlpEndpoint}/v1/traces`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"resourceSpans":[]}',
    }).then(
      (r) => r.ok,
      () => false,
    );
  };
  for (let i = 0; !(await ready()); i++) {
    if (i > 300 || child.exitCode !== null) {
      await stop();
      throw new Error(`Jaeger did not become ready: ${output}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { otlpEndpoint, queryUrl, stop };
}

/** The trace of this id from Jaeger's query API, or undefined while Jaeger has none. */
export async function jaegerTrace(
  queryUrl: string,
  traceId: string,
): Promise<JaegerTrace | undefined> {
  const res = await fetch(`${queryUrl}/api/traces/${traceId}`);
  if (res.status === 404) return undefined;
  if (!res.ok) throw new Error(`Jaeger query ${res.status}: ${await res.text()}`);
  const body = (await res.json()) as { data?: JaegerTrace[] };
  return body.data?.[0];
}
