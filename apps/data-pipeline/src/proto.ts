// Domain values <-> protobuf shapes, used by the gRPC API and by the events the adapters write.
// JobStatus and PipelineStage list their values in the domain's order, after UNSPECIFIED = 0.
import { fromJson, type JsonObject, type JsonValue } from '@bufbuild/protobuf';
import { ValueSchema, timestampFromDate } from '@bufbuild/protobuf/wkt';
import { JOB_STATUSES, STAGES, type Job, type JobStatus, type Stage } from './core/model';
import type { DatasetProfile } from './core/profile';
import type { DatasetVersionRecord, StoredCheck } from './core/ports';
import type { Upload, UploadJob } from './core/uploads';

export const statusNumber = (s: JobStatus): number => JOB_STATUSES.indexOf(s) + 1;
export const statusOf = (n: number): JobStatus | undefined =>
  n >= 1 ? JOB_STATUSES[n - 1] : undefined;
export const stageNumber = (s: Stage | ''): number => (s ? STAGES.indexOf(s) + 1 : 0);

/** Plain JSON (what jsonb columns hold) as a protobuf Struct/Value. */
export const json = (v: unknown): JsonValue => JSON.parse(JSON.stringify(v ?? null)) as JsonValue;

export const jobProto = (j: Job) => ({
  id: j.id,
  tenantId: j.tenantId,
  datasetId: j.datasetName,
  sourceUri: sourceUri(j.source),
  status: statusNumber(j.status),
  currentStage: stageNumber(j.stage),
  spec: json({ ...j.spec, type: j.type, source: j.source }) as JsonObject,
  errorMessage: j.errorMessage,
  outputVersionId: j.dataVersion,
  dataContext: {
    jurisdiction: String(j.dataContext['jurisdiction'] ?? ''),
  },
  createdAt: timestampFromDate(j.createdAt),
  updatedAt: timestampFromDate(j.updatedAt),
  type: j.type,
  ...(j.qualityScore === null ? {} : { qualityScore: j.qualityScore }),
  dataVersion: j.dataVersion,
  outputUri: j.outputUri,
  rowsProcessed: BigInt(j.rowsProcessed),
  bytesProcessed: BigInt(j.bytesProcessed),
  attempts: j.attempts,
  errorCode: j.errorCode,
  errorDetails: (j.errorDetails ?? []).map((d) => ({
    field: d.field ?? '',
    reason: d.reason ?? '',
    message: d.message,
  })),
  deadLettered: j.deadLettered,
  ...(j.stagePercent === null ? {} : { stagePercent: j.stagePercent }),
  stages: j.stages.map(stageNumber),
});

/** A readable URI of the source (no secrets: sources name them by reference). */
export function sourceUri(source: Record<string, unknown>): string {
  const type = String(source['type'] ?? '');
  if (type === 'file') return `file:${String(source['path'] ?? '')}`;
  if (type === 'postgres') return `postgres:${String(source['table'] ?? 'query')}`;
  if (type === 'upload') return `upload:${String(source['upload_id'] ?? '')}`;
  return `${type}:`;
}

export const profileProto = (jobId: string, p: DatasetProfile, at: Date) => ({
  datasetId: '',
  versionId: '',
  jobId,
  rowCount: BigInt(p.rowCount),
  duplicateRows: BigInt(p.duplicateRows),
  profiledAt: timestampFromDate(at),
  columns: p.columns.map((c) => ({
    name: c.name,
    inferredType: c.type,
    nullCount: BigInt(c.nullCount),
    distinctCount: BigInt(c.distinctCount),
    min: typeof c.min === 'number' ? c.min : 0,
    max: typeof c.max === 'number' ? c.max : 0,
    mean: c.mean ?? 0,
    stddev: c.stddev ?? 0,
    piiKinds: c.personalData && c.semanticType ? [c.semanticType] : [],
    semanticType: c.semanticType,
    personalData: c.personalData,
    details: json({
      min: c.min,
      max: c.max,
      quantiles: c.quantiles,
      top_values: c.topValues,
      histogram: c.histogram,
    }) as JsonObject,
  })),
});

export const checkProto = (c: StoredCheck) => ({
  name: `${c.position}:${c.type}`,
  passed: c.success,
  observed: typeof c.observedValue === 'number' ? c.observedValue : 0,
  threshold: typeof c.kwargs['mostly'] === 'number' ? c.kwargs['mostly'] : 1,
  message: c.success ? '' : `${c.unexpectedCount ?? 0} unexpected`,
  expectationType: c.type,
  severity: c.severity,
  kwargs: json(c.kwargs) as JsonObject,
  unexpectedCount: BigInt(c.unexpectedCount ?? 0),
  unexpectedPercent: c.unexpectedPercent ?? 0,
  observedValue: fromJson(ValueSchema, json(c.observedValue)),
});

export const versionProto = (v: DatasetVersionRecord) => ({
  id: v.contentSha256,
  datasetId: v.datasetName,
  number: v.number,
  storageUri: v.storageUri,
  contentSha256: v.contentSha256,
  rowCount: BigInt(v.rowCount),
  producedByJobId: v.producedByJobId ?? '',
  createdAt: timestampFromDate(v.createdAt),
});

export const uploadProto = (u: Upload, jobs: UploadJob[] = []) => ({
  id: u.id,
  tenantId: u.tenantId,
  format: u.format,
  fileName: u.fileName,
  bytes: BigInt(u.bytes),
  sha256: u.sha256,
  createdAt: timestampFromDate(u.createdAt),
  expiresAt: timestampFromDate(u.expiresAt),
  jobs: jobs.map((j) => ({
    id: j.id,
    status: statusNumber(j.status),
    createdAt: timestampFromDate(j.createdAt),
  })),
});
