import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { AionError } from '@aion/errors';
import { uniqueName, type TestDatabase } from '@aion/testing';
import type { Checkpoint, Job, Stage } from '../../src/core/model';
import { PipelineWorker, type StageRunner } from '../../src/core/worker';
import { asTenant, eventsOf, migratedDatabase, pipelineCore, scratch } from './harness';

let db: TestDatabase;
let dirs: Awaited<ReturnType<typeof scratch>>;
let core: ReturnType<typeof pipelineCore>;
const tenant = uniqueName('tenant');

const worker = (owner: string, stages: StageRunner = core.stages, leaseMs = 5_000) =>
  new PipelineWorker(core.store, stages, {
    owner,
    leaseMs,
    pollMs: 50,
    stageTimeoutMs: 20_000,
    retryBaseMs: 10,
    retryMaxMs: 20,
  });

const submit = (
  source: Record<string, unknown>,
  spec: Record<string, unknown> = {},
  type = 'profile',
  key = '',
) =>
  asTenant(tenant, () =>
    core.jobs.submit({
      type,
      source,
      spec,
      dataContext: { jurisdiction: 'DE' },
      datasetName: '',
      idempotencyKey: key,
    }),
  );
const read = (id: string) => asTenant(tenant, () => core.jobs.get(id));
const refusal = async (p: Promise<unknown>) => {
  try {
    await p;
  } catch (err) {
    return err as AionError;
  }
  throw new Error('not refused');
};

const SALES = [
  'id,email,amount',
  '1,a@example.com,10',
  '2,b@example.com,20',
  '3,c@example.com,30',
].join('\n');

beforeAll(async () => {
  db = await migratedDatabase('dplqueue');
  dirs = await scratch();
  core = pipelineCore(db, dirs);
  await writeFile(path.join(dirs.inbox, 'sales.csv'), SALES);
});
afterAll(async () => {
  await core?.close();
  await db?.drop();
  await dirs?.remove();
});

/** Runs queued jobs until none is runnable. */
async function drain(w: PipelineWorker) {
  while (await w.runOnce());
}

describe('the job queue on PostgreSQL', () => {
  it('runs a profile job and numbers its events per job', async () => {
    const { job, created } = await submit(
      { type: 'file', path: 'sales.csv' },
      {},
      'profile',
      'k-1',
    );
    expect(created).toBe(true);
    expect(job).toMatchObject({
      status: 'pending',
      stages: ['ingest', 'profile'],
      datasetName: 'sales',
    });
    await drain(worker('w1'));
    const done = await read(job.id);
    expect(done).toMatchObject({ status: 'succeeded', rowsProcessed: 3, attempts: 1 });
    const profile = await asTenant(tenant, () => core.jobs.profile(job.id));
    expect(profile.profile.rowCount).toBe(3);
    expect(profile.profile.columns.find((c) => c.name === 'email')).toMatchObject({
      semanticType: 'email',
      personalData: true,
    });
    const events = await eventsOf(db, job.id);
    expect(events.map((e) => [e.type, e.sequence])).toEqual([
      ['pipeline.job.created', 1],
      ['pipeline.profile.completed', 2],
      ['pipeline.job.completed', 3],
    ]);
    expect(events.every((e) => e.tenantId === tenant)).toBe(true);
  });

  it('answers a repeated Idempotency-Key with the same job, and refuses it for another request', async () => {
    const first = await submit({ type: 'file', path: 'sales.csv' }, {}, 'ingest', 'k-2');
    const again = await submit({ type: 'file', path: 'sales.csv' }, {}, 'ingest', 'k-2');
    expect(again).toMatchObject({ created: false, job: { id: first.job.id } });
    const err = await refusal(submit({ type: 'file', path: 'other.csv' }, {}, 'ingest', 'k-2'));
    expect(err.code).toBe('validation.idempotency_key_reused');
    await drain(worker('w1'));
  });

  it("keeps one tenant from seeing another tenant's jobs", async () => {
    const { job } = await submit({ type: 'file', path: 'sales.csv' });
    const err = await refusal(asTenant(uniqueName('other'), () => core.jobs.get(job.id)));
    expect(err.code).toBe('resource.not_found');
    await drain(worker('w1'));
  });

  it('hands each job to one worker only (SKIP LOCKED)', async () => {
    const a = await submit({ type: 'file', path: 'sales.csv' });
    const b = await submit({ type: 'file', path: 'sales.csv' });
    const [c1, c2, c3] = await Promise.all([
      core.store.claim('x', 5_000),
      core.store.claim('y', 5_000),
      core.store.claim('z', 5_000),
    ]);
    const ids = [c1, c2, c3].filter(Boolean).map((c) => c!.job.id);
    expect(ids.sort()).toEqual([a.job.id, b.job.id].sort());
    // Back to the queue, to be run below by a live worker.
    for (const [c, owner] of [
      [c1, 'x'],
      [c2, 'y'],
      [c3, 'z'],
    ] as const)
      if (c) await core.store.retry(c.job, 'ingest', owner, 'test', 0);
    await drain(worker('w1'));
    expect((await read(a.job.id)).status).toBe('succeeded');
    expect((await read(b.job.id)).status).toBe('succeeded');
  });

  it('resumes a job after its worker died, from the last checkpoint', async () => {
    const { job } = await submit({ type: 'file', path: 'sales.csv' });
    // Worker "dead" runs the ingest stage, checkpoints it, then stops without a word.
    const claimed = (await core.store.claim('dead', 60_000))!;
    expect(claimed.job.id).toBe(job.id);
    await core.store.startStage(claimed.job, 'ingest');
    const ingest = await core.stages.run('ingest', claimed.job, {}, new AbortController().signal);
    expect(await core.store.finishStage(claimed.job, 'ingest', 'dead', ingest)).toBe(true);
    // Before the lease lapses nobody else may take it.
    expect(await core.store.claim('early', 5_000)).toBeUndefined();
    // The lease lapses (set in the past rather than waited for, so no timing is involved).
    await db.queryAsOwner(
      "update dpl_jobs set lease_expires_at = now() - interval '1 second' where id = $1",
      [job.id],
    );
    const ran: Stage[] = [];
    const spy: StageRunner = {
      run: (s, j, cps, signal) => {
        ran.push(s);
        return core.stages.run(s, j, cps, signal);
      },
      cleanup: (j) => core.stages.cleanup(j),
    };
    await drain(worker('alive', spy));
    expect(ran).toEqual(['profile']);
    expect(await read(job.id)).toMatchObject({ status: 'succeeded', attempts: 2 });
    // The dead worker's late write is refused: the job is no longer its to run.
    expect(await core.store.finishStage(claimed.job, 'profile', 'dead', { checkpoint: {} })).toBe(
      false,
    );
  });

  it('retries a transient failure with backoff, then dead-letters the job', async () => {
    const { job } = await submit({ type: 'file', path: 'sales.csv' });
    let calls = 0;
    const flaky: StageRunner = {
      run: async (
        s: Stage,
        j: Job,
        cps: Partial<Record<Stage, Checkpoint>>,
        signal: AbortSignal,
      ) => {
        if (s === 'profile') {
          calls++;
          throw new Error('connection reset by peer');
        }
        return core.stages.run(s, j, cps, signal);
      },
      cleanup: (j) => core.stages.cleanup(j),
    };
    const w = worker('w2', flaky);
    expect(await w.runOnce()).toBe(true);
    const waiting = await read(job.id);
    expect(waiting).toMatchObject({
      status: 'pending',
      attempts: 1,
      errorMessage: 'connection reset by peer',
    });
    // Backoff is 10-20 ms: keep claiming until the job has used its attempts (bounded at 15 s).
    for (
      let until = Date.now() + 15_000;
      Date.now() < until && (await read(job.id)).status === 'pending';
    ) {
      await new Promise((r) => setTimeout(r, 30));
      await w.runOnce();
    }
    const dead = await read(job.id);
    expect(dead).toMatchObject({
      status: 'failed',
      attempts: 3,
      deadLettered: true,
      stage: 'profile',
    });
    expect(calls).toBe(3);
    const events = await eventsOf(db, job.id);
    expect(events.at(-1)).toMatchObject({ type: 'pipeline.job.failed' });
    expect(events.map((e) => e.sequence)).toEqual([1, 2]);
  });

  it('fails a job on a malformed file at once, naming the line, with no retry', async () => {
    await writeFile(path.join(dirs.inbox, 'broken.csv'), 'a,b\n1,2\n3,4,5\n');
    const { job } = await submit({ type: 'file', path: 'broken.csv' });
    await drain(worker('w3'));
    const failed = await read(job.id);
    expect(failed).toMatchObject({
      status: 'failed',
      attempts: 1,
      deadLettered: false,
      errorCode: 'validation.unprocessable',
    });
    expect(failed.errorDetails?.[0]).toMatchObject({ field: 'line 3', reason: 'malformed_row' });
  });

  it('refuses sources outside the inbox: .., absolute paths and symbolic links out', async () => {
    expect(
      (await refusal(submit({ type: 'file', path: '../etc/passwd.csv' }))).details?.[0]?.field,
    ).toBe('source.path');
    expect((await refusal(submit({ type: 'file', path: '/etc/passwd.csv' }))).code).toBe(
      'validation.invalid_argument',
    );
    expect((await refusal(submit({ type: 'ftp', path: 'x.csv' }))).details?.[0]?.field).toBe(
      'source.type',
    );
    await writeFile(path.join(dirs.root, 'secret.csv'), 'a\n1\n');
    await symlink(path.join(dirs.root, 'secret.csv'), path.join(dirs.inbox, 'link.csv'));
    const { job } = await submit({ type: 'file', path: 'link.csv' });
    await drain(worker('w4'));
    const failed = await read(job.id);
    expect(failed).toMatchObject({ status: 'failed', deadLettered: false });
    expect(failed.errorMessage).toContain('outside the inbox');
  });

  it('cancels a queued job, which no worker then runs', async () => {
    const { job } = await submit({ type: 'file', path: 'sales.csv' });
    const canceled = await asTenant(tenant, () => core.jobs.cancel(job.id, 'not needed'));
    expect(canceled).toMatchObject({ status: 'canceled', errorMessage: 'not needed' });
    expect(await worker('w5').runOnce()).toBe(false);
    const finished = await asTenant(tenant, () => core.jobs.get(job.id));
    expect(finished.status).toBe('canceled');
    const other = await submit({ type: 'file', path: 'sales.csv' });
    await drain(worker('w5'));
    const err = await refusal(asTenant(tenant, () => core.jobs.cancel(other.job.id, '')));
    expect(err.code).toBe('state.conflict');
  });
});

describe('clean jobs', () => {
  it('trims and deduplicates by key, recording the steps, and refuses an unknown step before queueing', async () => {
    await writeFile(path.join(dirs.inbox, 'dupes.csv'), 'k,v\n1, a \n1,b\n2,c\n');
    const { job } = await submit(
      { type: 'file', path: 'dupes.csv' },
      { clean: { dedupe: { keys: ['k'] } } },
      'clean',
    );
    expect(job.stages).toEqual(['ingest', 'clean', 'version']);
    await drain(worker('w6'));
    expect(await read(job.id)).toMatchObject({ status: 'succeeded', rowsProcessed: 2 });
    const stages = await db.queryAsOwner<{ stage: string; checkpoint: { steps?: unknown[] } }>(
      'select stage, checkpoint from dpl_job_stages where job_id = $1 order by started_at',
      [job.id],
    );
    expect(stages.find((s) => s.stage === 'clean')?.checkpoint.steps).toEqual([
      { step: 'trim', columns: ['v'] },
      { step: 'dedupe', mode: 'key', keys: ['k'] },
    ]);
    const err = await refusal(
      submit({ type: 'file', path: 'dupes.csv' }, { clean: { impute: 'mean' } }, 'clean'),
    );
    expect(err.details?.[0]?.field).toBe('spec.clean.impute');
    expect(
      (
        await refusal(
          submit({ type: 'file', path: 'dupes.csv' }, { clean: { dedupe: { keys: 5 } } }, 'clean'),
        )
      ).details?.[0]?.field,
    ).toBe('spec.clean.dedupe');
  });
});

describe('orchestrate jobs', () => {
  it('runs ingest, profile, clean, transform, the gate and a CSV version with its fitted parameters', async () => {
    await writeFile(
      path.join(dirs.inbox, 'people.csv'),
      'split,city,age\ntrain,Berlin,30\ntrain,Paris,40\ntrain,Paris,40\ntest,Rome,50\n',
    );
    const { job } = await submit(
      { type: 'file', path: 'people.csv' },
      {
        transform: {
          steps: [
            { op: 'one_hot', column: 'city' },
            { op: 'scale', column: 'age' },
          ],
          fit_where: { column: 'split', equals: 'train' },
        },
        expectation_suite: {
          expectations: [
            { type: 'expect_column_values_to_not_be_null', kwargs: { column: 'age_standard' } },
          ],
        },
        output_format: 'csv',
      },
      'orchestrate',
    );
    expect(job.stages).toEqual([
      'ingest',
      'profile',
      'clean',
      'transform',
      'quality_gate',
      'version',
    ]);
    await drain(worker('w7'));
    const done = await read(job.id);
    expect(done).toMatchObject({ status: 'succeeded', rowsProcessed: 3, qualityScore: 1 });
    const dir = path.join(dirs.storage, 'datasets', tenant, 'people', done.dataVersion);
    const manifest = JSON.parse(await readFile(path.join(dir, 'manifest.json'), 'utf8'));
    expect(manifest).toMatchObject({
      format: 'csv',
      rowCount: 3,
      files: [{ path: 'data.csv' }, { path: 'fitted.json' }],
    });
    expect((await readFile(path.join(dir, 'data.csv'), 'utf8')).split('\n')[0]).toBe(
      'split,city,age,city_Berlin,city_Paris,age_standard',
    );
    const fitted = JSON.parse(await readFile(path.join(dir, 'fitted.json'), 'utf8'));
    expect(fitted[0]).toEqual({ op: 'one_hot', column: 'city', categories: ['Berlin', 'Paris'] });
    expect(fitted[1]).toMatchObject({ op: 'scale', column: 'age', mean: 35 });
    expect(await readFile(path.join(dir, 'people.csv.dvc'), 'utf8')).toContain('path: people.csv');
  });

  it('refuses a transform job without steps, or with a bad one, before queueing', async () => {
    expect(
      (await refusal(submit({ type: 'file', path: 'people.csv' }, {}, 'transform'))).details?.[0]
        ?.field,
    ).toBe('spec.transform');
    const bad = await refusal(
      submit(
        { type: 'file', path: 'people.csv' },
        { transform: { steps: [{ op: 'explode', column: 'a' }] } },
        'transform',
      ),
    );
    expect(bad.details?.[0]?.field).toBe('spec.transform.steps[0].op');
  });
});

describe("the tenant's stored expectation suites", () => {
  it('runs a stored suite (ge-suites/<tenant>/<name>.json) with the inline one, and fails a job naming a missing one', async () => {
    const dir = path.join(dirs.storage, 'ge-suites', tenant);
    await mkdir(dir, { recursive: true });
    await writeFile(
      path.join(dir, 'sales.json'),
      JSON.stringify({
        name: 'sales',
        expectations: [{ type: 'expect_column_values_to_be_unique', kwargs: { column: 'id' } }],
      }),
    );
    const { job } = await submit(
      { type: 'file', path: 'sales.csv' },
      {
        expectation_suite_name: 'sales',
        expectation_suite: {
          expectations: [{ type: 'expect_table_row_count_to_equal', kwargs: { value: 3 } }],
        },
      },
      'ingest',
    );
    expect(job.stages).toEqual(['ingest', 'quality_gate', 'version']);
    await drain(worker('w8'));
    expect(await read(job.id)).toMatchObject({ status: 'succeeded', qualityScore: 1 });
    const checks = await asTenant(tenant, () => core.jobs.quality(job.id));
    expect(checks.checks.map((c) => c.type)).toEqual([
      'expect_column_values_to_be_unique',
      'expect_table_row_count_to_equal',
    ]);

    const missing = await submit(
      { type: 'file', path: 'sales.csv' },
      { expectation_suite_name: 'nope' },
      'ingest',
    );
    await drain(worker('w8'));
    const failed = await read(missing.job.id);
    expect(failed).toMatchObject({ status: 'failed', deadLettered: false, dataVersion: '' });
    expect(failed.errorDetails?.[0]).toMatchObject({
      field: 'spec.expectation_suite_name',
      reason: 'not_found',
    });
  });
});
