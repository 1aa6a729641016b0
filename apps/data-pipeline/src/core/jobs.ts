import { AionError } from '@aion/errors';
import type { ConnectorRegistry } from './connectors';
import { type Job, type JobStatus, type JobType, isJobType, stagesFor } from './model';
import type { JobStore } from './ports';
import { checkConversion } from './normalize';
import { checkResidency, type ResidencyPort } from './residency';
import { gate, parseSuite } from './suite';
import { parseOutputFormat, parseTransform } from './transform';

export interface JobRequest {
  type: unknown;
  source: unknown;
  spec: Record<string, unknown>;
  dataContext: Record<string, unknown>;
  datasetName: string;
  idempotencyKey: string;
}

const DATASET_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
const SUITE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;
/** Job types whose stages this service runs today; the others are refused, not queued. */
const SERVED: JobType[] = ['ingest', 'profile', 'clean', 'transform', 'orchestrate'];

const invalid = (field: string, message: string) =>
  AionError.validation(message, [{ field, reason: 'invalid', message }]);

/** Submitting, reading and canceling jobs; everything a job needs is checked before it is queued. */
export class JobService {
  constructor(
    private readonly store: JobStore,
    private readonly connectors: ConnectorRegistry,
    private readonly options: {
      maxAttempts: number;
      qualityThreshold: number;
      onQueued?: () => void;
      /** How often a watched job is read for changes (default 500 ms). */
      watchPollMs?: number;
      /** Where this pipeline processes and stores data, and who decides whether it may. */
      residency?: { port: ResidencyPort; jurisdiction: string };
    },
  ) {}

  async submit(req: JobRequest): Promise<{ job: Job; created: boolean }> {
    if (!isJobType(req.type)) throw invalid('type', `type must be one of ${SERVED.join(', ')}`);
    if (!SERVED.includes(req.type))
      throw new AionError('validation.unprocessable', `${req.type} jobs are not served yet`, {
        details: [
          { field: 'type', reason: 'unsupported', message: `served: ${SERVED.join(', ')}` },
        ],
      });
    if (typeof req.source !== 'object' || req.source === null || Array.isArray(req.source))
      throw invalid('source', 'source must be an object with a type');
    const source = req.source as Record<string, unknown>;
    await this.connectors.check(source);
    const suite = req.spec['expectation_suite'];
    if (suite !== undefined) parseSuite(suite);
    // A stored suite is read when the gate runs (a missing one fails the job, naming it).
    const suiteName = req.spec['expectation_suite_name'];
    if (suiteName !== undefined && (typeof suiteName !== 'string' || !SUITE_NAME.test(suiteName)))
      throw invalid(
        'spec.expectation_suite_name',
        'spec.expectation_suite_name must be 1-100 letters, digits, ".", "_" or "-"',
      );
    const threshold = req.spec['quality_threshold'];
    if (
      threshold !== undefined &&
      (typeof threshold !== 'number' || threshold < 0 || threshold > 1)
    )
      throw invalid(
        'spec.quality_threshold',
        'spec.quality_threshold must be a number from 0 to 1',
      );
    checkClean(req.spec['clean']);
    const steps = req.spec['transform'];
    if (req.type === 'transform' && steps === undefined)
      throw invalid('spec.transform', 'spec.transform is required for a transform job');
    if (steps !== undefined) parseTransform(steps);
    parseOutputFormat(req.spec['output_format']);
    const datasetName = req.datasetName || defaultDatasetName(source);
    if (!DATASET_NAME.test(datasetName))
      throw invalid('dataset', 'the dataset name must be 1-63 letters, digits, ".", "_" or "-"');
    const jurisdiction = req.dataContext['jurisdiction'];
    if (this.options.residency && typeof jurisdiction === 'string' && jurisdiction !== '')
      await checkResidency(
        this.options.residency.port,
        { jurisdiction, classification: String(req.dataContext['classification'] ?? 'none') },
        this.options.residency.jurisdiction,
      );
    const created = await this.store.create({
      type: req.type,
      stages: stagesFor(
        req.type,
        suite !== undefined || suiteName !== undefined,
        steps !== undefined,
      ),
      source,
      spec: req.spec,
      dataContext: req.dataContext,
      datasetName,
      idempotencyKey: req.idempotencyKey,
      maxAttempts: this.options.maxAttempts,
    });
    if (created.created) this.options.onQueued?.();
    return created;
  }

  async get(id: string): Promise<Job> {
    const job = await this.store.get(id);
    if (!job) throw AionError.notFound('job', id);
    return job;
  }

  list(
    window: { offset: number; limit: number },
    filter: { status?: JobStatus; datasetName?: string },
  ) {
    return this.store.list(window, filter);
  }

  /**
   * The job now, then each change the worker or a cancel writes (stage, progress, status), read
   * from the database every watchPollMs, so any replica serves any job; ends after the change
   * that finished it. `after` resumes: changes up to that sequence (its update time in ms) are
   * not sent again.
   */
  async *watch(
    id: string,
    after: number,
    signal: AbortSignal,
  ): AsyncIterable<{ job: Job; sequence: number; final: boolean }> {
    let last = after;
    let sent = '';
    for (;;) {
      const job = await this.get(id);
      const sequence = job.updatedAt.getTime();
      const final = FINISHED.includes(job.status);
      const state = JSON.stringify([job.status, job.stage, job.stagePercent, job.rowsProcessed]);
      // Two changes within one millisecond share a sequence: the later still goes out.
      if (sequence > last || (sequence === last && sent !== '' && state !== sent)) {
        last = sequence;
        sent = state;
        yield { job, sequence, final };
      }
      if (final || signal.aborted) return;
      await pause(this.options.watchPollMs ?? 500, signal);
    }
  }

  async cancel(id: string, reason: string): Promise<Job> {
    const job = await this.store.cancel(id, reason);
    if (!job) throw AionError.notFound('job', id);
    return job;
  }

  async profile(jobId: string) {
    const job = await this.get(jobId);
    const profile = await this.store.profile(jobId);
    if (!profile) throw AionError.notFound('profile of job', jobId);
    return { job, profile };
  }

  async quality(jobId: string) {
    const job = await this.get(jobId);
    const checks = await this.store.checks(jobId);
    const threshold =
      typeof job.spec['quality_threshold'] === 'number'
        ? job.spec['quality_threshold']
        : this.options.qualityThreshold;
    if (checks.length === 0) throw AionError.notFound('quality report of job', jobId);
    return { job, checks, threshold, outcome: gate(checks, threshold) };
  }

  versions(datasetName: string, window: { offset: number; limit: number }) {
    return this.store.versions(datasetName, window);
  }
}

const FINISHED: JobStatus[] = ['succeeded', 'failed', 'canceled'];

const pause = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** spec.clean: dedupe, trim, normalize, impute; checked before queueing, every problem named. */
function checkClean(clean: unknown): void {
  if (clean === undefined) return;
  const bad = (field: string, message: string) =>
    invalid(`spec.clean.${field}`, `spec.clean.${field} ${message}`);
  if (!isRecord(clean)) throw invalid('spec.clean', 'spec.clean must be an object');
  const { dedupe, trim, normalize, impute, redact_pii: redact, ...rest } = clean;
  const unknown = Object.keys(rest)[0];
  if (unknown !== undefined)
    throw bad(unknown, 'is not a cleaning step (dedupe, trim, normalize, impute, redact_pii)');
  if (trim !== undefined && typeof trim !== 'boolean') throw bad('trim', 'must be true or false');
  if (redact !== undefined && typeof redact !== 'boolean')
    throw bad('redact_pii', 'must be true or false');
  const keys = isRecord(dedupe) ? dedupe['keys'] : undefined;
  if (
    dedupe !== undefined &&
    typeof dedupe !== 'boolean' &&
    !(
      isRecord(dedupe) &&
      Object.keys(dedupe).length === 1 &&
      Array.isArray(keys) &&
      keys.length > 0 &&
      keys.every((k) => typeof k === 'string' && k.length > 0)
    )
  )
    throw bad('dedupe', 'must be true, false or {"keys": ["column", ...]}');
  const list = (v: unknown, name: string) => {
    if (v === undefined) return [];
    if (!Array.isArray(v)) throw bad(name, 'must be a list');
    return v.map((x, i) => {
      if (!isRecord(x) || typeof x['column'] !== 'string' || x['column'] === '')
        throw bad(`${name}[${i}].column`, 'must name a column');
      return [x, `${name}[${i}]`] as const;
    });
  };
  for (const [n, at] of list(normalize, 'normalize')) {
    const { column: _c, case: kase, unicode, date, number, ...more } = n;
    if (Object.keys(more).length) throw bad(`${at}.${Object.keys(more)[0]}`, 'is not a setting');
    const kinds = [kase ?? unicode, date, number].filter((k) => k !== undefined).length;
    if (kinds > 1)
      throw bad(at, 'is one of: case and/or unicode (text), date, or number, not several');
    if (date !== undefined) checkConversion('date', date, at, bad);
    if (number !== undefined) checkConversion('number', number, at, bad);
    if (kase !== undefined && kase !== 'lower' && kase !== 'upper')
      throw bad(`${at}.case`, 'must be lower or upper');
    if (unicode !== undefined && unicode !== 'nfc') throw bad(`${at}.unicode`, 'must be nfc');
  }
  for (const [m, at] of list(impute, 'impute')) {
    if (!['mean', 'median', 'mode', 'constant'].includes(m['method'] as string))
      throw bad(`${at}.method`, 'must be mean, median, mode or constant');
    const value = m['value'];
    if (m['method'] === 'constant' && !['string', 'number', 'boolean'].includes(typeof value))
      throw bad(`${at}.value`, 'must be the constant to fill in');
  }
}

/** sales.csv -> sales; a table -> its name; otherwise the source type. */
function defaultDatasetName(source: Record<string, unknown>): string {
  const raw = String(source['path'] ?? source['table'] ?? source['type'] ?? 'dataset');
  const base = raw
    .split(/[\\/]/)
    .pop()!
    .replace(/\.[^.]*$/, '');
  // Always a valid name: other characters become _, and it starts with a letter or digit.
  const name = base
    .replace(/[^A-Za-z0-9._-]/g, '_')
    .replace(/^[^A-Za-z0-9]+/, '')
    .slice(0, 63);
  return name || 'dataset';
}
