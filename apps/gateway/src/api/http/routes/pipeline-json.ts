import * as z from 'zod/v4';
import type { JsonObject } from '@bufbuild/protobuf';
import { timestampDate, type Timestamp as WireTimestamp } from '@bufbuild/protobuf/wkt';
import { JobStatus, type PipelineService } from '@aion/contracts';
import type { ClientOf } from '@aion/grpc';
import { Timestamp, Uuid } from '../../wire-schemas';

// The data-pipeline service's messages as /api/v1/pipeline spells them, and back.
export type PipelineClient = ClientOf<typeof PipelineService>;
type JobMessage = NonNullable<Awaited<ReturnType<PipelineClient['getJob']>>['job']>;
type ProfileMessage = NonNullable<Awaited<ReturnType<PipelineClient['profileDataset']>>['profile']>;

export const BASE = '/api/v1/pipeline';

const STATUSES = ['pending', 'running', 'succeeded', 'failed', 'canceled'] as const;
const STAGES = ['ingest', 'profile', 'clean', 'transform', 'quality_gate', 'version'] as const;
export const JobStatusName = z.enum(STATUSES);
export const statusNumber = (s: (typeof STATUSES)[number]) =>
  JobStatus[s.toUpperCase() as 'PENDING'];

const JsonRecord = z.record(z.string(), z.unknown());

const ErrorDetail = z.object({ field: z.string(), reason: z.string(), message: z.string() });

export const Job = z.object({
  id: Uuid,
  type: z.string(),
  status: JobStatusName,
  stage: z.enum(STAGES).nullable(),
  dataset: z.string(),
  source: JsonRecord,
  spec: JsonRecord,
  data_context: z.object({ jurisdiction: z.string() }),
  rows_processed: z.int().min(0),
  bytes_processed: z.int().min(0),
  attempts: z.int().min(0),
  stages: z.array(z.enum(STAGES)).describe('The stages the job runs, in order'),
  stage_percent: z
    .number()
    .min(0)
    .max(100)
    .nullable()
    .describe(
      'How far the current stage is, as its worker last checkpointed it (null before it ran)',
    ),
  quality_score: z.number().nullable(),
  data_version: z.string().nullable(),
  output_uri: z.string().nullable(),
  error: z
    .object({
      code: z.string(),
      message: z.string(),
      details: z.array(ErrorDetail),
      dead_lettered: z.boolean(),
    })
    .nullable(),
  created_at: Timestamp,
  updated_at: Timestamp,
});

const iso = (t: WireTimestamp | undefined) =>
  t ? timestampDate(t).toISOString() : new Date(0).toISOString();

export function jobJson(j: JobMessage | undefined): z.input<typeof Job> {
  if (!j) throw new Error('the pipeline service answered without a job');
  const { type: _type, source, ...spec } = (j.spec ?? {}) as JsonObject;
  const stage = j.currentStage ? (STAGES[j.currentStage - 1] ?? null) : null;
  return {
    id: j.id,
    type: j.type,
    status: STATUSES[j.status - 1] ?? 'pending',
    stage,
    dataset: j.datasetId,
    source: (source ?? {}) as Record<string, unknown>,
    spec,
    data_context: { jurisdiction: j.dataContext?.jurisdiction ?? '' },
    rows_processed: Number(j.rowsProcessed),
    bytes_processed: Number(j.bytesProcessed),
    attempts: j.attempts,
    stages: j.stages.flatMap((n) => (STAGES[n - 1] ? [STAGES[n - 1]!] : [])),
    stage_percent: j.stagePercent ?? null,
    quality_score: j.qualityScore ?? null,
    data_version: j.dataVersion || null,
    output_uri: j.outputUri || null,
    error:
      j.status === JobStatus.FAILED || j.status === JobStatus.CANCELED
        ? {
            code: j.errorCode,
            message: j.errorMessage,
            details: j.errorDetails.map((d) => ({
              field: d.field,
              reason: d.reason,
              message: d.message,
            })),
            dead_lettered: j.deadLettered,
          }
        : null,
    created_at: iso(j.createdAt),
    updated_at: iso(j.updatedAt),
  };
}

export const Profile = z.object({
  job_id: Uuid,
  dataset: z.string(),
  row_count: z.int().min(0),
  duplicate_rows: z.int().min(0),
  columns: z.array(
    z.object({
      name: z.string(),
      type: z.string(),
      null_count: z.int().min(0),
      distinct_count: z.int().min(0),
      min: z.union([z.number(), z.string()]).nullable(),
      max: z.union([z.number(), z.string()]).nullable(),
      mean: z.number().nullable(),
      stddev: z.number().nullable(),
      quantiles: z.record(z.string(), z.number()).nullable(),
      top_values: z.array(z.object({ value: z.string(), count: z.int() })),
      histogram: z
        .array(z.object({ lower: z.number(), upper: z.number(), count: z.int() }))
        .nullable(),
      semantic_type: z.string().nullable(),
      personal_data: z.boolean(),
    }),
  ),
});

export function profileJson(p: ProfileMessage | undefined): z.input<typeof Profile> {
  if (!p) throw new Error('the pipeline service answered without a profile');
  return {
    job_id: p.jobId,
    dataset: p.datasetId,
    row_count: Number(p.rowCount),
    duplicate_rows: Number(p.duplicateRows),
    columns: p.columns.map((c) => {
      const d = (c.details ?? {}) as Record<string, unknown>;
      return {
        name: c.name,
        type: c.inferredType,
        null_count: Number(c.nullCount),
        distinct_count: Number(c.distinctCount),
        min: (d['min'] as number | string | null | undefined) ?? null,
        max: (d['max'] as number | string | null | undefined) ?? null,
        mean: typeof d['min'] === 'number' ? c.mean : null,
        stddev: typeof d['min'] === 'number' ? c.stddev : null,
        quantiles: (d['quantiles'] as Record<string, number> | null | undefined) ?? null,
        top_values: (d['top_values'] as { value: string; count: number }[] | undefined) ?? [],
        histogram:
          (d['histogram'] as
            { lower: number; upper: number; count: number }[] | null | undefined) ?? null,
        semantic_type: c.semanticType || null,
        personal_data: c.personalData,
      };
    }),
  };
}
