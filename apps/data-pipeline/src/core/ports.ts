// Ports of the data-pipeline core; adapters implement them, the composition root wires them.
import type { ErrorDetail } from '@aion/errors';
import type { Checkpoint, Job, JobStatus, JobType, Stage } from './model';
import type { DateNormalization, NumberNormalization } from './normalize';
import type { DatasetProfile } from './profile';
import type { ExpectationResult, ExpectationSuite } from './suite';
import type { FittedParams, OutputFormat, TransformSpec } from './transform';

/** What a connector hands the engine: a file it can scan, or rows in bounded batches. */
export type SourceData =
  | {
      kind: 'file';
      path: string;
      format: 'csv' | 'jsonl' | 'parquet';
      /** The CSV's delimiter, when the source names it; otherwise read from the header line. */
      csv?: { delimiter?: string };
      /** Removes a local copy the connector made (a download), once the engine has read it. */
      release?: () => Promise<void>;
    }
  | {
      kind: 'rows';
      columns: { name: string; type: 'text' | 'integer' | 'double' | 'boolean' | 'timestamp' }[];
      batches: AsyncIterable<unknown[][]>;
    };

/** One kind of source (`file`, `postgres`, ...): checks a source spec and opens it. */
export interface Connector {
  readonly type: string;
  /** Refuses a spec it cannot serve (validation error naming the field) before a job is queued. */
  check(source: Record<string, unknown>): void | Promise<void>;
  open(source: Record<string, unknown>, signal: AbortSignal): Promise<SourceData>;
}

/** The data engine: every stage's data work, on local Parquet files, in bounded memory. */
export interface DataEngine {
  /** Reads a source into Parquet at `outPath`, refusing malformed input with its row and column. */
  ingest(data: SourceData, outPath: string): Promise<{ rows: number; bytes: number }>;
  profile(dataPath: string): Promise<DatasetProfile>;
  /** Deduplicates and trims text; returns what it did with its parameters. */
  clean(
    inPath: string,
    outPath: string,
    spec: CleanSpec,
  ): Promise<{ rows: number; bytes: number; steps: Record<string, unknown>[] }>;
  validate(dataPath: string, suite: ExpectationSuite): Promise<ExpectationResult[]>;
  /** Feature engineering; what it learned is returned to be versioned with the output. */
  transform(
    inPath: string,
    outPath: string,
    spec: TransformSpec,
  ): Promise<{ rows: number; bytes: number; fitted: FittedParams }>;
  /** The data as CSV or JSON lines (format conversion of the versioned output). */
  export(inPath: string, outPath: string, format: OutputFormat): Promise<void>;
  /** Runs `fn`, telling `onPercent` how far the engine's work in it is (0-100) now and then. */
  withProgress<T>(onPercent: (percent: number) => void, fn: () => Promise<T>): Promise<T>;
}

export interface CleanSpec {
  /** Drop exact duplicate rows (default true), or rows repeating these key columns. */
  dedupe?: boolean | { keys: string[] };
  /** Trim whitespace of text columns (default true). */
  trim?: boolean;
  /**
   * Per column: text to Unicode NFC and/or a case, or text dates to DATE/TIMESTAMP, or locale
   * numbers to DOUBLE/DECIMAL (see core/normalize.ts).
   */
  normalize?: {
    column: string;
    case?: 'lower' | 'upper';
    unicode?: 'nfc';
    date?: DateNormalization;
    number?: NumberNormalization;
  }[];
  /** Mask every column the profile flags as personal data (values become "[redacted]"). */
  redact_pii?: boolean;
  /** Nulls filled per column: mean or median (numbers), mode, or a constant. */
  impute?: {
    column: string;
    method: 'mean' | 'median' | 'mode' | 'constant';
    value?: string | number | boolean;
  }[];
}

/** S3-compatible object storage (or a directory standing in for it). Keys are `/`-separated. */
export interface ObjectStore {
  putFile(key: string, localPath: string): Promise<void>;
  getFile(key: string, localPath: string): Promise<void>;
  putBytes(key: string, bytes: Uint8Array): Promise<void>;
  getBytes(key: string): Promise<Uint8Array | undefined>;
  exists(key: string): Promise<boolean>;
  /** Removes the object; removing one that is not there is no error. */
  delete(key: string): Promise<void>;
  uri(key: string): string;
}

export interface NewJob {
  type: JobType;
  stages: Stage[];
  source: Record<string, unknown>;
  spec: Record<string, unknown>;
  dataContext: Record<string, unknown>;
  datasetName: string;
  idempotencyKey: string;
  maxAttempts: number;
}

export interface JobFilter {
  status?: JobStatus;
  datasetName?: string;
}

export interface StoredCheck extends ExpectationResult {
  position: number;
}

export interface NewVersion {
  datasetName: string;
  contentSha256: string;
  storageUri: string;
  manifest: Record<string, unknown>;
  rowCount: number;
}

export interface DatasetVersionRecord extends NewVersion {
  id: string;
  datasetId: string;
  number: number;
  producedByJobId: string | null;
  createdAt: Date;
}

/** A claimed job: the job, its finished stages' checkpoints, and the lease it runs under. */
export interface ClaimedJob {
  job: Job;
  checkpoints: Partial<Record<Stage, Checkpoint>>;
}

/** How far a running stage is: percent of its work, and rows and bytes when they are known. */
export interface StageProgress {
  percent: number;
  rows?: number;
  bytes?: number;
}

export interface StageResult {
  checkpoint: Checkpoint;
  profile?: DatasetProfile;
  checks?: StoredCheck[];
  qualityScore?: number;
  version?: NewVersion;
}

/** Jobs in PostgreSQL; requests run in the caller's tenant, the worker's calls in the job's. */
export interface JobStore {
  create(input: NewJob): Promise<{ job: Job; created: boolean }>;
  get(id: string): Promise<Job | undefined>;
  list(
    window: { offset: number; limit: number },
    filter: JobFilter,
  ): Promise<{ items: Job[]; total: number }>;
  cancel(id: string, reason: string): Promise<Job | undefined>;
  profile(jobId: string): Promise<DatasetProfile | undefined>;
  checks(jobId: string): Promise<StoredCheck[]>;
  versions(
    datasetName: string,
    window: { offset: number; limit: number },
  ): Promise<{ items: DatasetVersionRecord[]; total: number }>;

  /** Takes the next runnable job of any tenant (SKIP LOCKED), or one whose worker's lease lapsed. */
  claim(owner: string, leaseMs: number): Promise<ClaimedJob | undefined>;
  /** Extends the lease; false when the job is no longer this worker's to run (lost or canceled). */
  renew(job: Job, owner: string, leaseMs: number): Promise<boolean>;
  startStage(job: Job, stage: Stage): Promise<void>;
  /** Checkpoints how far the running stage is; false when the job is no longer this worker's. */
  progress(job: Job, owner: string, progress: StageProgress): Promise<boolean>;
  finishStage(job: Job, stage: Stage, owner: string, result: StageResult): Promise<boolean>;
  /** Back to the queue after a transient failure, to run again after `delayMs`. */
  retry(job: Job, stage: Stage, owner: string, error: string, delayMs: number): Promise<void>;
  fail(job: Job, stage: Stage, owner: string, error: JobError): Promise<void>;
  succeed(job: Job, owner: string): Promise<void>;
}

export interface JobError {
  code: string;
  message: string;
  details: ErrorDetail[];
  deadLettered: boolean;
}
