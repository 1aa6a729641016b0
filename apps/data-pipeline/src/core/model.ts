// The pipeline's domain: job types, the stages each runs, statuses and the shapes stages hand on.
import { AionError, type ErrorDetail } from '@aion/errors';

export const JOB_TYPES = ['ingest', 'profile', 'clean', 'transform', 'orchestrate'] as const;
export type JobType = (typeof JOB_TYPES)[number];

/** In the order a job runs them; the proto's PipelineStage lists them the same way. */
export const STAGES = [
  'ingest',
  'profile',
  'clean',
  'transform',
  'quality_gate',
  'version',
] as const;
export type Stage = (typeof STAGES)[number];

export const JOB_STATUSES = ['pending', 'running', 'succeeded', 'failed', 'canceled'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

export const isJobType = (v: unknown): v is JobType =>
  typeof v === 'string' && (JOB_TYPES as readonly string[]).includes(v);

/**
 * The stages of a job: its type's, with the quality gate when the job names a suite; an
 * orchestrate job transforms only when it names transform steps.
 */
export function stagesFor(type: JobType, hasSuite: boolean, hasTransform = false): Stage[] {
  const byType: Record<JobType, Stage[]> = {
    ingest: ['ingest', 'version'],
    profile: ['ingest', 'profile'],
    clean: ['ingest', 'clean', 'version'],
    transform: ['ingest', 'transform', 'version'],
    orchestrate: hasTransform
      ? ['ingest', 'profile', 'clean', 'transform', 'version']
      : ['ingest', 'profile', 'clean', 'version'],
  };
  const stages = byType[type];
  if (!hasSuite) return stages;
  // The gate judges the data the job would version (or profiled), so it runs just before that.
  const at = stages.includes('version') ? stages.indexOf('version') : stages.length;
  return [...stages.slice(0, at), 'quality_gate', ...stages.slice(at)];
}

export interface Job {
  id: string;
  tenantId: string;
  type: JobType;
  status: JobStatus;
  stage: Stage | '';
  stages: Stage[];
  source: Record<string, unknown>;
  spec: Record<string, unknown>;
  dataContext: Record<string, unknown>;
  datasetName: string;
  attempts: number;
  maxAttempts: number;
  rowsProcessed: number;
  bytesProcessed: number;
  qualityScore: number | null;
  dataVersion: string;
  outputUri: string;
  errorCode: string;
  errorMessage: string;
  errorDetails: ErrorDetail[] | null;
  deadLettered: boolean;
  /** How far the running stage is (0-100), as its worker last checkpointed it. */
  stagePercent: number | null;
  createdAt: Date;
  updatedAt: Date;
  finishedAt: Date | null;
}

/** What a finished stage leaves for the next one (and for a job resumed after a restart). */
export interface Checkpoint {
  /** Object-store key of the stage's output (Parquet), when it produced data. */
  dataKey?: string;
  rows?: number;
  bytes?: number;
  [more: string]: unknown;
}

/**
 * Bad data or a bad request inside a job (malformed file, unknown expectation): retrying cannot
 * help, so the job fails at once with the row, column or field named in the details.
 */
export function dataError(message: string, details: ErrorDetail[] = []): AionError {
  return new AionError('validation.unprocessable', message, { details });
}

/** A validation.* error is the input's fault and final; anything else may pass on a retry. */
export const isPermanent = (err: unknown): boolean =>
  err instanceof AionError && err.code.startsWith('validation.');
