import { PipelineService } from '@aion/contracts';
import { AionError } from '@aion/errors';
import { nextPageToken, pageWindow, type GrpcServer, type ServiceImpl } from '@aion/grpc';
import { currentTenant } from '@aion/tenancy';
import type { JobService } from '../core/jobs';
import { UPLOAD_FORMATS, type UploadFormat, type UploadService } from '../core/uploads';
import { checkProto, jobProto, profileProto, statusOf, uploadProto, versionProto } from '../proto';

const required = (value: string, field: string) => {
  if (!value)
    throw AionError.validation(`${field} is required`, [{ field, message: 'is required' }]);
  return value;
};

/** DataClassification's values after UNSPECIFIED, as the domain names them. */
const CLASSIFICATION_NAMES = ['none', 'none', 'pii', 'financial', 'health', 'biometric'];

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** An id that is no UUID names nothing (and must not reach a uuid column as a 500). */
const idOf =
  (what: string) =>
  (value: string, field = 'id') => {
    required(value, field);
    if (!UUID.test(value)) throw AionError.notFound(what, value);
    return value;
  };
const jobId = idOf('job');
const uploadId = idOf('upload');

const uploadFormat = (value: string): UploadFormat | undefined => {
  if (!value) return undefined;
  if (!UPLOAD_FORMATS.includes(value as UploadFormat))
    throw AionError.validation(`format must be one of ${UPLOAD_FORMATS.join(', ')}`, [
      { field: 'format', reason: 'invalid', message: 'unknown value' },
    ]);
  return value as UploadFormat;
};

const page = (offset: number, returned: number, total: number) => ({
  nextPageToken: nextPageToken(offset, returned, total),
  totalSize: BigInt(total),
});

/**
 * aion.v1.PipelineService: parse, check, call, map back. CreateJob's spec carries the job's
 * `type`, `source` and stage settings; dataset_id names the dataset its versions go to.
 */
export function registerPipelineApi(
  server: GrpcServer,
  jobs: JobService,
  uploads: UploadService,
): void {
  const handlers: ServiceImpl<typeof PipelineService.method> = {
    createJob: async (req) => {
      const { type, source, ...spec } = (req.spec ?? {}) as Record<string, unknown>;
      const { job } = await jobs.submit({
        type,
        source,
        spec,
        dataContext: req.dataContext
          ? {
              jurisdiction: req.dataContext.jurisdiction,
              classification: CLASSIFICATION_NAMES[req.dataContext.classification] ?? 'none',
            }
          : {},
        datasetName: req.datasetId,
        idempotencyKey: req.idempotencyKey,
      });
      return { job: jobProto(job) };
    },
    getJob: async (req) => ({ job: jobProto(await jobs.get(jobId(req.id))) }),
    listJobs: async (req) => {
      const window = pageWindow(req.page);
      const status = req.status ? statusOf(req.status) : undefined;
      if (req.status && !status)
        throw AionError.validation('status is not a job status', [
          { field: 'status', message: 'unknown value' },
        ]);
      const result = await jobs.list(window, {
        ...(status ? { status } : {}),
        ...(req.datasetId ? { datasetName: req.datasetId } : {}),
      });
      return {
        jobs: result.items.map(jobProto),
        page: page(window.offset, result.items.length, result.total),
      };
    },
    cancelJob: async (req) => ({ job: jobProto(await jobs.cancel(jobId(req.id), req.reason)) }),
    profileDataset: async (req) => {
      if (!req.jobId)
        throw new AionError(
          'validation.method_not_allowed',
          'profiles are read by job_id; by dataset version is not served yet',
        );
      const { profile, job } = await jobs.profile(jobId(req.jobId, 'job_id'));
      return {
        profile: {
          ...profileProto(job.id, profile, job.updatedAt),
          datasetId: job.datasetName,
          versionId: job.dataVersion,
        },
      };
    },
    getQualityReport: async (req) => {
      const { job, checks, threshold, outcome } = await jobs.quality(jobId(req.jobId, 'job_id'));
      return {
        report: {
          jobId: job.id,
          passed: outcome.passed,
          checks: checks.map(checkProto),
          score: outcome.score,
          threshold,
        },
      };
    },
    listDatasetVersions: async (req) => {
      const window = pageWindow(req.page);
      const result = await jobs.versions(required(req.datasetId, 'dataset_id'), window);
      return {
        versions: result.items.map(versionProto),
        page: page(window.offset, result.items.length, result.total),
      };
    },
    watchJob: async function* (req, ctx) {
      const changes = jobs.watch(jobId(req.id), Number(req.afterSequence), ctx.signal);
      for await (const { job, sequence, final } of changes)
        yield { job: jobProto(job), sequence: BigInt(sequence), final };
    },
    uploadSource: async (requests, ctx) => {
      const iterator = requests[Symbol.asyncIterator]();
      const first = await iterator.next();
      if (first.done || first.value.part.case !== 'header')
        throw AionError.validation('the first message of an upload must be its header', [
          { field: 'header', reason: 'required', message: 'send the header first' },
        ]);
      const header = first.value.part.value;
      async function* chunks(): AsyncIterable<Uint8Array> {
        for (;;) {
          const next = await iterator.next();
          if (next.done) return;
          if (next.value.part.case !== 'chunk')
            throw AionError.validation('an upload has one header, then only chunks', [
              { field: 'chunk', reason: 'invalid', message: 'a second header' },
            ]);
          yield next.value.part.value;
        }
      }
      const { upload, replayed } = await uploads.receive(
        currentTenant()!.tenantId,
        header,
        chunks(),
        ctx.signal,
      );
      return { upload: uploadProto(upload), replayed };
    },
    listUploads: async (req) => {
      const window = pageWindow(req.page);
      const format = uploadFormat(req.format);
      const result = await uploads.list(window, format ? { format } : {});
      return {
        uploads: result.items.map((u) => uploadProto(u)),
        page: page(window.offset, result.items.length, result.total),
      };
    },
    getUpload: async (req) => {
      const { upload, jobs: used } = await uploads.describe(uploadId(req.id));
      return { upload: uploadProto(upload, used) };
    },
    deleteUpload: async (req) => ({
      upload: uploadProto(await uploads.delete(uploadId(req.id))),
    }),
  };
  server.add(PipelineService, handlers, {
    uploadSource: 'tasks:submit',
    listUploads: 'tasks:read',
    getUpload: 'tasks:read',
    deleteUpload: 'tasks:submit',
    watchJob: 'tasks:read',
    createJob: 'tasks:submit',
    getJob: 'tasks:read',
    listJobs: 'tasks:read',
    cancelJob: 'tasks:cancel',
    profileDataset: 'tasks:read',
    getQualityReport: 'tasks:read',
    listDatasetVersions: 'tasks:read',
  });
}
