import * as z from 'zod/v4';
import type { JsonObject } from '@bufbuild/protobuf';
import { DataClassification } from '@aion/contracts';
import { route, type Route } from '../routing/route';
import { PageInfo, PageQuery, Uuid } from '../../wire-schemas';
import {
  BASE,
  Job,
  JobStatusName,
  jobJson,
  Profile,
  profileJson,
  statusNumber,
  type PipelineClient,
} from './pipeline-json';
import { JobRequest } from './pipeline-request';
import type { Capacity } from '../../capacity';
import { jobEventRoutes } from './pipeline-events';
import { uploadRoutes } from './pipeline-uploads';
import { page, pageRequest } from './sovereign-json';

export type { PipelineClient } from './pipeline-json';

const CLASSIFICATIONS: Record<string, DataClassification> = {
  none: DataClassification.NONE,
  pii: DataClassification.PII,
  financial: DataClassification.FINANCIAL,
  health: DataClassification.HEALTH,
  biometric: DataClassification.BIOMETRIC,
};

/** /api/v1/pipeline: data-pipeline jobs (ingest, profile, clean, quality gate, version). */
export function pipelineRoutes(
  pipeline: PipelineClient,
  requestTimeoutMs: number,
  options: { uploadMaxBytes: number; heartbeatMs: number; streams: Capacity },
): Route[] {
  const o = { deadlineMs: requestTimeoutMs };
  const tag = 'pipeline';
  const IdPath = z.strictObject({ id: Uuid });
  const jobLinks = {
    GetJob: { operationId: 'getPipelineJob', parameters: { id: '$response.body#/id' } },
  };
  return [
    ...uploadRoutes(pipeline, { maxBytes: options.uploadMaxBytes, requestTimeoutMs }),
    ...jobEventRoutes(pipeline, {
      requestTimeoutMs,
      heartbeatMs: options.heartbeatMs,
      streams: options.streams,
    }),
    route({
      method: 'post',
      path: `${BASE}/jobs`,
      operationId: 'createPipelineJob',
      summary: 'Queue a job; it runs in the background (poll GET /jobs/{id})',
      tag,
      access: 'tasks:submit',
      request: { body: JobRequest },
      responses: {
        202: { description: 'Queued (or the job this Idempotency-Key made)', schema: Job },
      },
      errors: [404, 409, 422],
      links: jobLinks,
      async handle({ body, req }) {
        const key = req.get('idempotency-key') ?? '';
        const { job } = await pipeline.createJob(
          {
            datasetId: body.dataset ?? '',
            idempotencyKey: key,
            spec: { ...(body.spec ?? {}), type: body.type, source: body.source } as JsonObject,
            ...(body.data_context
              ? {
                  dataContext: {
                    jurisdiction: body.data_context.jurisdiction,
                    classification: CLASSIFICATIONS[body.data_context.classification],
                  },
                }
              : {}),
          },
          o,
        );
        return { status: 202, body: jobJson(job) };
      },
    }),
    route({
      method: 'get',
      path: `${BASE}/jobs`,
      operationId: 'listPipelineJobs',
      summary: "The tenant's jobs, newest first",
      tag,
      access: 'tasks:read',
      request: {
        query: PageQuery.extend({
          status: JobStatusName.optional(),
          dataset: z
            .string()
            .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/)
            .optional(),
        }),
      },
      responses: {
        200: { description: 'Jobs', schema: z.object({ data: z.array(Job), ...PageInfo }) },
      },
      async handle({ query }) {
        const r = await pipeline.listJobs(
          {
            ...pageRequest(query),
            ...(query.status ? { status: statusNumber(query.status) } : {}),
            datasetId: query.dataset ?? '',
          },
          o,
        );
        return { status: 200, body: { data: r.jobs.map(jobJson), ...page(r.page) } };
      },
    }),
    route({
      method: 'get',
      path: `${BASE}/jobs/{id}`,
      operationId: 'getPipelineJob',
      summary: 'A job: status, stage, progress, quality score, data version and output URI',
      tag,
      access: 'tasks:read',
      request: { path: IdPath },
      responses: { 200: { description: 'The job', schema: Job } },
      errors: [404],
      async handle({ path }) {
        return { status: 200, body: jobJson((await pipeline.getJob({ id: path.id }, o)).job) };
      },
    }),
    route({
      method: 'get',
      path: `${BASE}/jobs/{id}/profile`,
      operationId: 'getPipelineJobProfile',
      summary: "The job's data profile (404 until its profile stage ran)",
      tag,
      access: 'tasks:read',
      request: { path: IdPath },
      responses: { 200: { description: 'Per-column statistics', schema: Profile } },
      errors: [404],
      async handle({ path }) {
        return {
          status: 200,
          body: profileJson((await pipeline.profileDataset({ jobId: path.id }, o)).profile),
        };
      },
    }),
    route({
      method: 'post',
      path: `${BASE}/jobs/{id}/cancel`,
      operationId: 'cancelPipelineJob',
      summary: 'Cancel a pending or running job (409 once it finished)',
      tag,
      access: 'tasks:cancel',
      request: {
        path: IdPath,
        body: z.strictObject({ reason: z.string().max(500).optional() }),
        bodyOptional: true,
      },
      responses: { 200: { description: 'The canceled job', schema: Job } },
      errors: [404, 409],
      async handle({ path, body }) {
        const { job } = await pipeline.cancelJob({ id: path.id, reason: body?.reason ?? '' }, o);
        return { status: 200, body: jobJson(job) };
      },
    }),
  ];
}
