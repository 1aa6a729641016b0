/**
 * Data-pipeline targets (issue 17):
 *  1. profile a 1,000,000-row x 20-column CSV end to end from object storage (< 5 s): the CSV
 *     sits in a real SeaweedFS S3 bucket; a `profile` job naming it is submitted and run by the
 *     service's job path (PostgreSQL queue, S3 connector, DuckDB engine; see pipeline-stack.ts);
 *     ydata-profiling (minimal mode) times the same file in the same repetition, for the ratio;
 *  2. a 20-expectation GX suite over the same rows (< 2 s): the same job's quality gate stage;
 *  3. a clean job (ingest -> clean -> version) of a ~2 GB CSV in a process with the service's
 *     heap limit (--max-old-space-size=512) and DuckDB's memory_limit, its RSS sampled.
 *
 *   npm run infra:up
 *   npx tsx tools/bench/pipeline.bench.ts [--reps=3] [--skip-ydata] [--skip-clean] [--skip-profile]
 */
import { execFileSync, spawn } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { migratedDatabase } from '../../apps/data-pipeline/test/integration/harness';
import {
  type SeaweedFs,
  startSeaweedFs,
} from '../../apps/data-pipeline/test/integration/seaweedfs';
import { benchCsv, benchSuite, cacheDir } from './pipeline-data';
import { engineSettings, pipelineStack } from './pipeline-stack';
import { loadInfraEnv } from './support';

const root = path.resolve(__dirname, '..', '..');
const flag = (name: string) => process.argv.includes(`--${name}`);
const option = (name: string, fallback: number) =>
  Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? fallback);

const REPS = option('reps', 3);
const ROWS = option('rows', 1_000_000);
const CLEAN_ROWS = option('clean-rows', 12_000_000);

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const r2 = (x: number) => Math.round(x * 100) / 100;
const s = (ms: number) => r2(ms / 1000);
const log = (line: string) => process.stdout.write(`${line}\n`);
const load = () =>
  loadavg()
    .map((x) => x.toFixed(1))
    .join(' ');

interface ProfileRun {
  download_s: number;
  ingest_s: number;
  profile_stage_s: number;
  profile_end_to_end_s: number;
  quality_gate_s: number;
  ingest_cpu_s: number;
  profile_cpu_s: number;
  quality_gate_cpu_s: number;
  ydata_read_s: number;
  ydata_profile_s: number;
  ydata_total_s: number;
  ydata_cpu_s: number;
  ratio: number;
  cpu_ratio: number;
}

async function profileRuns(databaseUrl: string, dir: string, csv: string): Promise<ProfileRun[]> {
  const weed = await startSeaweedFs();
  try {
    return await profileRunsOn(weed, databaseUrl, dir, csv);
  } finally {
    await weed.stop();
  }
}

async function profileRunsOn(
  weed: SeaweedFs,
  databaseUrl: string,
  dir: string,
  csv: string,
): Promise<ProfileRun[]> {
  const key = `bench/${path.basename(csv)}`;
  const client = new S3Client({
    endpoint: weed.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: weed.accessKeyId, secretAccessKey: weed.secretAccessKey },
  });
  const { size } = await stat(csv);
  await client.send(
    new PutObjectCommand({
      Bucket: weed.bucket,
      Key: key,
      Body: createReadStream(csv),
      ContentLength: size,
    }),
  );
  client.destroy();
  const stack = pipelineStack({
    databaseUrl,
    dir,
    s3: {
      accounts: {
        lake: {
          endpoint: weed.endpoint,
          access_key_id: weed.accessKeyId,
          secret_access_key: weed.secretAccessKey,
        },
      },
      // Loopback is refused unless named: the SeaweedFS gateway's address and port are allowed.
      egressAllow: new URL(weed.endpoint).host,
    },
  });
  const python = flag('skip-ydata')
    ? undefined
    : execFileSync('bash', [path.join(root, 'tools/bench/ydata-profiling.sh')], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'inherit'],
      })
        .trim()
        .split('\n')
        .pop()!;
  const runs: ProfileRun[] = [];
  try {
    for (let rep = 1; rep <= REPS; rep++) {
      const { job, submitted, marks } = await stack.runJob({
        type: 'profile',
        source: { type: 's3', credentials: 'lake', bucket: weed.bucket, key },
        spec: { expectation_suite: benchSuite(ROWS) },
        idempotencyKey: `profile-${rep}-${Date.now()}`,
      });
      if (job.status !== 'succeeded')
        throw new Error(`profile job ${job.status}: ${job.errorMessage}`);
      if (job.rowsProcessed !== ROWS) throw new Error(`profiled ${job.rowsProcessed} rows`);
      const { start, end, cpuStart, cpuEnd } = marks;
      const cpu = (stage: 'ingest' | 'profile' | 'quality_gate') =>
        s(cpuEnd[stage]! - cpuStart[stage]!);
      const ydata = python ? ydataRun(python, csv) : undefined;
      const run: ProfileRun = {
        download_s: s(end.download! - start.download!),
        ingest_s: s(end.ingest! - start.ingest!),
        profile_stage_s: s(end.profile! - start.profile!),
        profile_end_to_end_s: s(end.profile! - submitted),
        quality_gate_s: s(end.quality_gate! - start.quality_gate!),
        ingest_cpu_s: cpu('ingest'),
        profile_cpu_s: cpu('profile'),
        quality_gate_cpu_s: cpu('quality_gate'),
        ydata_read_s: r2(ydata?.read_s ?? NaN),
        ydata_profile_s: r2(ydata?.profile_s ?? NaN),
        ydata_total_s: r2(ydata?.total_s ?? NaN),
        ydata_cpu_s: r2(ydata?.cpu_s ?? NaN),
        ratio: NaN,
        cpu_ratio: NaN,
      };
      run.ratio = r2(run.ydata_total_s / run.profile_end_to_end_s);
      // The download's CPU is mostly SeaweedFS's (another process): compared is the engine's.
      run.cpu_ratio = r2(run.ydata_cpu_s / (run.ingest_cpu_s + run.profile_cpu_s));
      runs.push(run);
      log(`profile rep ${rep}: ${JSON.stringify(run)} (load ${load()})`);
    }
  } finally {
    await stack.close();
  }
  return runs;
}

function ydataRun(python: string, csv: string) {
  const out = execFileSync(python, [path.join(root, 'tools/bench/ydata_profile.py'), csv], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
    env: { ...process.env, PYTHONWARNINGS: 'ignore' },
  });
  return JSON.parse(out.trim().split('\n').pop()!) as {
    read_s: number;
    profile_s: number;
    total_s: number;
    cpu_s: number;
  };
}

/** VmRSS of a process in MiB (0 once it is gone). */
async function rssMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  const kb = /VmRSS:\s+(\d+) kB/.exec(status)?.[1];
  return kb ? Number(kb) / 1024 : 0;
}

async function cleanRun(databaseUrl: string, dir: string, csv: string) {
  const child = spawn(
    process.execPath,
    [
      '--max-old-space-size=512',
      '--import',
      'tsx',
      path.join(root, 'tools/bench/processes/pipeline-clean.ts'),
      databaseUrl,
      dir,
      path.dirname(csv),
      path.basename(csv),
    ],
    { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const samples: { t: number; mb: number }[] = [];
  const started = performance.now();
  const exited = new Promise<number | null>((ok) => child.once('exit', ok));
  let done = false;
  void exited.then(() => (done = true));
  while (!done) {
    const mb = await rssMb(child.pid!);
    if (mb) samples.push({ t: performance.now() - started, mb });
    await new Promise((ok) => setTimeout(ok, 250));
  }
  if ((await exited) !== 0) throw new Error(`the clean process failed: ${out}`);
  const result = JSON.parse(out.trim().split('\n').pop()!) as { ms: number } & Record<
    string,
    unknown
  >;
  // RSS per tenth of the run: flat memory is the same peak from the first tenth to the last.
  const total = samples.at(-1)?.t ?? 1;
  const tenths = Array.from({ length: 10 }, (_, i) =>
    Math.round(
      Math.max(0, ...samples.filter((x) => Math.floor((x.t / total) * 10) === i).map((x) => x.mb)),
    ),
  );
  const middle = samples.filter((x) => x.t > total * 0.1 && x.t < total * 0.9).map((x) => x.mb);
  return {
    ...result,
    rss_peak_mb: Math.round(Math.max(...samples.map((x) => x.mb))),
    rss_steady_mb: Math.round(median(middle)),
    rss_max_per_tenth_mb: tenths,
  };
}

async function main() {
  loadInfraEnv();
  const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], {
    cwd: root,
    encoding: 'utf8',
  }).trim();
  log(`commit ${commit}, engine ${JSON.stringify(engineSettings())}, load ${load()}`);
  const db = await migratedDatabase('dplbench');
  const dir = await mkdtemp(path.join(tmpdir(), 'aion-pipeline-bench-'));
  try {
    if (!flag('skip-profile')) {
      const csv = await benchCsv(ROWS);
      log(`profile input: ${csv.path} (${ROWS} rows, ${r2(csv.bytes / 1e6)} MB)`);
      const runs = await profileRuns(db.appUrl, path.join(dir, 'profile'), csv.path);
      const keys = Object.keys(runs[0]!) as (keyof ProfileRun)[];
      log(`| ${keys.join(' | ')} |`);
      for (const run of runs) log(`| ${keys.map((k) => run[k]).join(' | ')} |`);
      log(`| ${keys.map((k) => r2(median(runs.map((x) => x[k])))).join(' | ')} | (medians)`);
    }
    if (!flag('skip-clean'))
      // The profile's 1M rows too: flat memory is the same RSS at 170 MB and at 2 GB.
      for (const rows of [ROWS, CLEAN_ROWS]) {
        const csv = await benchCsv(rows);
        log(`clean input: ${csv.path} (${rows} rows, ${r2(csv.bytes / 1e9)} GB)`);
        const runs = [];
        for (let rep = 1; rep <= REPS; rep++) {
          const run = await cleanRun(db.appUrl, path.join(dir, `clean-${rep}`), csv.path);
          runs.push(run);
          log(`clean rep ${rep}: ${JSON.stringify(run)} (load ${load()})`);
          await rm(path.join(dir, `clean-${rep}`), { recursive: true, force: true });
        }
        log(
          `clean medians (${rows} rows): ${s(median(runs.map((x) => x.ms)))} s, RSS peak ${median(runs.map((x) => x.rss_peak_mb))} MB, steady ${median(runs.map((x) => x.rss_steady_mb))} MB`,
        );
      }
  } finally {
    await rm(dir, { recursive: true, force: true });
    await db.drop();
  }
  log(`cache: ${cacheDir()}; load ${load()}`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
