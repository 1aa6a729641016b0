// A running job's progress on real PostgreSQL: the worker checkpoints what the stage reports at a
// bounded rate, only while it holds the job, and a watcher (what WatchJob and the gateway's SSE
// serve) sees the job now, each change, and the end.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { uniqueName, type TestDatabase } from '@aion/testing';
import type { Checkpoint, Job, Stage } from '../../src/core/model';
import type { StageProgress } from '../../src/core/ports';
import { PipelineWorker, type StageRunner } from '../../src/core/worker';
import { JobService } from '../../src/core/jobs';
import { ConnectorRegistry } from '../../src/core/connectors';
import { FileConnector } from '../../src/adapters/connectors/file-connector';
import { asTenant, migratedDatabase, pipelineCore, scratch } from './harness';

let db: TestDatabase;
let dirs: Awaited<ReturnType<typeof scratch>>;
let core: ReturnType<typeof pipelineCore>;
let jobs: JobService;
const tenant = uniqueName('progress');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  db = await migratedDatabase('dplprogress');
  dirs = await scratch();
  core = pipelineCore(db, dirs);
  // The core's service, reading watched jobs often.
  jobs = new JobService(core.store, new ConnectorRegistry([new FileConnector(dirs.inbox)]), {
    maxAttempts: 3,
    qualityThreshold: 0.8,
    watchPollMs: 20,
  });
  await writeFile(path.join(dirs.inbox, 'sales.csv'), 'id,amount\n1,10\n2,20\n3,30\n');
});
afterAll(async () => {
  await core?.close();
  await db?.drop();
  await dirs?.remove();
});

/**
 * The real stages, with a profile stage that reports progress 200 times over ~600 ms before it
 * runs (as a long engine query would), so the test sees the worker's checkpointing at work.
 */
const reportingStages = (): StageRunner => ({
  async run(
    stage: Stage,
    job: Job,
    cps: Partial<Record<Stage, Checkpoint>>,
    signal: AbortSignal,
    progress?: (p: StageProgress) => void,
  ) {
    if (stage === 'profile')
      for (let i = 1; i <= 200; i++) {
        progress?.({ percent: i / 2, rows: Math.round((3 * i) / 200) });
        await sleep(3);
      }
    return core.stages.run(stage, job, cps, signal);
  },
  cleanup: (job) => core.stages.cleanup(job),
});

describe('job progress', () => {
  it('checkpoints a stage at a bounded rate and streams every change to a watcher, then the end', async () => {
    const writes: StageProgress[] = [];
    const store = Object.create(core.store) as typeof core.store;
    store.progress = (job, owner, p) => {
      writes.push(p);
      return core.store.progress(job, owner, p);
    };
    const worker = new PipelineWorker(store, reportingStages(), {
      owner: 'w-1',
      leaseMs: 5_000,
      pollMs: 50,
      stageTimeoutMs: 20_000,
      retryBaseMs: 10,
      retryMaxMs: 20,
      progressIntervalMs: 100,
    });
    const { job } = await asTenant(tenant, () =>
      jobs.submit({
        type: 'profile',
        source: { type: 'file', path: 'sales.csv' },
        spec: {},
        dataContext: {},
        datasetName: '',
        idempotencyKey: '',
      }),
    );
    const seen: {
      sequence: number;
      status: string;
      stage: string;
      percent: number | null;
      final: boolean;
    }[] = [];
    const watching = asTenant(tenant, async () => {
      for await (const change of jobs.watch(job.id, 0, new AbortController().signal))
        seen.push({
          sequence: change.sequence,
          status: change.job.status,
          stage: change.job.stage,
          percent: change.job.stagePercent,
          final: change.final,
        });
    });
    const started = Date.now();
    await worker.runOnce();
    const elapsed = Date.now() - started;
    await watching;

    // 200 reports in ~600 ms, written at most once per 100 ms (and only when changed).
    expect(writes.length).toBeGreaterThan(1);
    expect(writes.length).toBeLessThanOrEqual(Math.ceil(elapsed / 100) + 1);
    expect(writes.map((w) => w.percent)).toEqual(
      [...writes.map((w) => w.percent)].sort((a, b) => a - b),
    );
    // The watcher saw the job pending or running, the stage in between, and the end last.
    expect(seen[0]!.final).toBe(false);
    const midway = seen.filter(
      (s) => s.stage === 'profile' && s.percent !== null && s.percent > 0 && s.percent < 100,
    );
    expect(midway.length).toBeGreaterThan(0);
    expect(seen.at(-1)).toMatchObject({ status: 'succeeded', final: true, percent: 100 });
    expect(seen.filter((s) => s.final)).toHaveLength(1);
    const sequences = seen.map((s) => s.sequence);
    expect([...sequences].sort((a, b) => a - b)).toEqual(sequences);

    // Resuming after the last change finds nothing new: the stream just ends.
    const resumed: unknown[] = [];
    await asTenant(tenant, async () => {
      for await (const change of jobs.watch(
        job.id,
        sequences.at(-1)!,
        new AbortController().signal,
      ))
        resumed.push(change);
    });
    expect(resumed).toEqual([]);
  });

  it('writes progress only for the worker that holds the job', async () => {
    const { job } = await asTenant(tenant, () =>
      jobs.submit({
        type: 'profile',
        source: { type: 'file', path: 'sales.csv' },
        spec: {},
        dataContext: {},
        datasetName: '',
        idempotencyKey: '',
      }),
    );
    expect(await core.store.progress(job, 'nobody', { percent: 50 })).toBe(false);
    const claimed = await core.store.claim('w-2', 5_000);
    expect(claimed?.job.id).toBe(job.id);
    expect(await core.store.progress(job, 'w-3', { percent: 50 })).toBe(false);
    expect(await core.store.progress(job, 'w-2', { percent: 42, rows: 7, bytes: 99 })).toBe(true);
    expect(await asTenant(tenant, () => jobs.get(job.id))).toMatchObject({
      stagePercent: 42,
      rowsProcessed: 7,
      bytesProcessed: 99,
    });
    // Another tenant cannot watch it.
    await expect(
      asTenant(uniqueName('other'), async () => {
        for await (const _ of jobs.watch(job.id, 0, new AbortController().signal)) break;
      }),
    ).rejects.toMatchObject({ code: 'resource.not_found' });
  });
});
