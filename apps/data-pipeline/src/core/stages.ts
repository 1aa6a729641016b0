import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { ConnectorRegistry } from './connectors';
import { type Checkpoint, type Job, type Stage, dataError } from './model';
import type { CleanSpec, DataEngine, ObjectStore, StageProgress, StageResult } from './ports';
import { gate, parseSuite } from './suite';
import { parseOutputFormat, parseTransform } from './transform';
import { type Manifest, dvcPointer, manifestSha256, versionPrefix } from './versioning';

export interface StageDeps {
  connectors: ConnectorRegistry;
  engine: DataEngine;
  store: ObjectStore;
  /** Local scratch space; everything a later stage needs is also in the object store. */
  workDir: string;
  qualityThreshold: number;
}

/** What a stage returns; a failed quality gate keeps its results and fails the job after. */
export interface StageOutcome extends StageResult {
  failure?: Error;
}

async function digests(file: string) {
  const sha = createHash('sha256');
  const md5 = createHash('md5');
  for await (const chunk of createReadStream(file)) {
    sha.update(chunk as Buffer);
    md5.update(chunk as Buffer);
  }
  return { sha256: sha.digest('hex'), md5: md5.digest('hex'), size: (await stat(file)).size };
}

/**
 * The work of each stage. A stage reads the data the last data-producing stage checkpointed (from
 * the object store when this replica does not have it), so a job resumed elsewhere picks up there.
 */
export class PipelineStages {
  constructor(private readonly deps: StageDeps) {}

  private dir(job: Job) {
    return path.join(this.deps.workDir, job.tenantId, job.id);
  }

  private stagingKey(job: Job, stage: Stage) {
    return `work/${job.tenantId}/${job.id}/${stage}.parquet`;
  }

  /** The current data of the job, as a local file. */
  private async input(
    job: Job,
    checkpoints: Partial<Record<Stage, Checkpoint>>,
  ): Promise<{ file: string; rows: number }> {
    const last = [...job.stages].reverse().find((s) => checkpoints[s]?.dataKey);
    const cp = last && checkpoints[last];
    if (!cp?.dataKey) throw new Error('no checkpointed data to continue from');
    const file = path.join(this.dir(job), path.basename(cp.dataKey));
    if (!(await stat(file).catch(() => undefined))) await this.deps.store.getFile(cp.dataKey, file);
    return { file, rows: cp.rows ?? 0 };
  }

  private async produce(job: Job, stage: Stage, file: string) {
    const key = this.stagingKey(job, stage);
    await this.deps.store.putFile(key, file);
    return key;
  }

  /**
   * Runs a stage; `progress` hears how far the engine's work is (percent of the stage), with
   * the rows of the stage's input done so far, or, while ingesting a file, its bytes.
   */
  async run(
    stage: Stage,
    job: Job,
    checkpoints: Partial<Record<Stage, Checkpoint>>,
    signal: AbortSignal,
    progress?: (p: StageProgress) => void,
  ): Promise<StageOutcome> {
    await mkdir(this.dir(job), { recursive: true });
    if (!progress) return this.runStage(stage, job, checkpoints, signal);
    const last = [...job.stages].reverse().find((s) => checkpoints[s]?.dataKey);
    const inputRows = last ? checkpoints[last]?.rows : undefined;
    const measure: { fileBytes?: number } = {};
    let done = 0;
    return this.deps.engine.withProgress(
      (raw) => {
        // A stage runs several queries; its progress never goes back.
        const percent = (done = Math.max(done, Math.min(100, raw)));
        const share = (n: number | undefined) =>
          n === undefined ? undefined : Math.round((n * percent) / 100);
        const rows = stage === 'ingest' ? undefined : share(inputRows);
        const bytes = stage === 'ingest' ? share(measure.fileBytes) : undefined;
        progress({
          percent,
          ...(rows !== undefined ? { rows } : {}),
          ...(bytes !== undefined ? { bytes } : {}),
        });
      },
      () => this.runStage(stage, job, checkpoints, signal, measure),
    );
  }

  private async runStage(
    stage: Stage,
    job: Job,
    checkpoints: Partial<Record<Stage, Checkpoint>>,
    signal: AbortSignal,
    measure: { fileBytes?: number } = {},
  ): Promise<StageOutcome> {
    switch (stage) {
      case 'ingest': {
        const data = await this.deps.connectors.open(job.source, signal);
        if (data.kind === 'file') measure.fileBytes = (await stat(data.path)).size;
        const out = path.join(this.dir(job), 'ingest.parquet');
        const { rows, bytes } = await this.deps.engine
          .ingest(data, out)
          .finally(() => (data.kind === 'file' ? data.release?.() : undefined));
        return { checkpoint: { dataKey: await this.produce(job, stage, out), rows, bytes } };
      }
      case 'profile': {
        const { file, rows } = await this.input(job, checkpoints);
        const profile = await this.deps.engine.profile(file);
        return { checkpoint: { rows }, profile };
      }
      case 'clean': {
        const { file } = await this.input(job, checkpoints);
        const out = path.join(this.dir(job), 'clean.parquet');
        const spec = (job.spec['clean'] ?? {}) as CleanSpec;
        const { rows, bytes, steps } = await this.deps.engine.clean(file, out, spec);
        return { checkpoint: { dataKey: await this.produce(job, stage, out), rows, bytes, steps } };
      }
      case 'quality_gate': {
        const { file, rows } = await this.input(job, checkpoints);
        const suite = await this.suiteOf(job);
        const results = await this.deps.engine.validate(file, suite);
        const threshold =
          typeof job.spec['quality_threshold'] === 'number'
            ? job.spec['quality_threshold']
            : this.deps.qualityThreshold;
        const outcome = gate(results, threshold);
        return {
          checkpoint: { rows, score: outcome.score, passed: outcome.passed },
          checks: results.map((r, position) => ({ ...r, position })),
          qualityScore: outcome.score,
          ...(outcome.passed
            ? {}
            : {
                failure: dataError(`quality gate failed: ${outcome.reason}`, [
                  {
                    field: 'spec.expectation_suite',
                    reason: 'quality_gate_failed',
                    message: outcome.reason,
                  },
                ]),
              }),
        };
      }
      case 'version':
        return this.version(job, checkpoints);
      case 'transform': {
        const { file } = await this.input(job, checkpoints);
        const out = path.join(this.dir(job), 'transform.parquet');
        const spec = parseTransform(job.spec['transform']);
        const { rows, bytes, fitted } = await this.deps.engine.transform(file, out, spec);
        return {
          checkpoint: { dataKey: await this.produce(job, stage, out), rows, bytes, fitted },
        };
      }
    }
  }

  /** An immutable version: the data under the sha256 of its manifest, with the manifest and a .dvc pointer. */
  private async version(
    job: Job,
    checkpoints: Partial<Record<Stage, Checkpoint>>,
  ): Promise<StageOutcome> {
    const { file: parquet, rows } = await this.input(job, checkpoints);
    const format = parseOutputFormat(job.spec['output_format']);
    const dataName = `data.${format}`;
    let file = parquet;
    if (format !== 'parquet') {
      file = path.join(this.dir(job), dataName);
      await this.deps.engine.export(parquet, file, format);
    }
    const d = await digests(file);
    const files: Manifest['files'] = [
      { path: dataName, size: d.size, sha256: d.sha256, md5: d.md5 },
    ];
    // Fitted transform parameters are part of the version: its address covers them too.
    const fitted = checkpoints.transform?.['fitted'];
    const fittedBytes = fitted ? Buffer.from(JSON.stringify(fitted, null, 2)) : undefined;
    if (fittedBytes)
      files.push({
        path: 'fitted.json',
        size: fittedBytes.length,
        sha256: createHash('sha256').update(fittedBytes).digest('hex'),
        md5: createHash('md5').update(fittedBytes).digest('hex'),
      });
    const manifest: Manifest = { format, rowCount: rows, files };
    const sha = manifestSha256(manifest);
    const prefix = versionPrefix(job.tenantId, job.datasetName, sha);
    const { store } = this.deps;
    // Content-addressed: an existing version holds these very bytes and is never written again.
    if (!(await store.exists(`${prefix}/manifest.json`))) {
      await store.putFile(`${prefix}/${dataName}`, file);
      if (fittedBytes) await store.putBytes(`${prefix}/fitted.json`, fittedBytes);
      const out = `${job.datasetName}.${format}`;
      await store.putBytes(`${prefix}/${out}.dvc`, Buffer.from(dvcPointer(manifest, out)));
      await store.putBytes(
        `${prefix}/manifest.json`,
        Buffer.from(JSON.stringify(manifest, null, 2)),
      );
    }
    return {
      checkpoint: { rows, version: sha },
      version: {
        datasetName: job.datasetName,
        contentSha256: sha,
        storageUri: store.uri(prefix),
        manifest: manifest as unknown as Record<string, unknown>,
        rowCount: rows,
      },
    };
  }

  /**
   * The job's suite: the tenant's stored one it names (`ge-suites/<tenant>/<name>.json` in the
   * object store) followed by its inline expectations, either alone when only one is given.
   */
  private async suiteOf(job: Job) {
    const name = job.spec['expectation_suite_name'];
    const inline = job.spec['expectation_suite'];
    if (typeof name !== 'string') return parseSuite(inline);
    const bytes = await this.deps.store.getBytes(`ge-suites/${job.tenantId}/${name}.json`);
    if (!bytes)
      throw dataError(`no stored expectation suite named ${name}`, [
        {
          field: 'spec.expectation_suite_name',
          reason: 'not_found',
          message: `ge-suites/${job.tenantId}/${name}.json`,
        },
      ]);
    const stored = parseSuite(Buffer.from(bytes).toString('utf8'));
    if (inline === undefined) return stored;
    return {
      name: stored.name,
      expectations: [...stored.expectations, ...parseSuite(inline).expectations],
    };
  }

  /** Local scratch of a finished job goes; its staged objects stay for a while for inspection. */
  async cleanup(job: Job) {
    await rm(this.dir(job), { recursive: true, force: true });
  }
}
