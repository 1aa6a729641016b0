import * as z from 'zod/v4';
import { timestampDate, type Timestamp as WireTimestamp } from '@bufbuild/protobuf/wkt';
import type { PipelineClient } from './pipeline-json';
import { JobStatusName } from './pipeline-json';
import { Timestamp, Uuid } from '../../wire-schemas';

// An upload (a job source the tenant sent) as /api/v1/pipeline/uploads spells it, and back.
type UploadMessage = NonNullable<Awaited<ReturnType<PipelineClient['getUpload']>>['upload']>;

export const UploadFormat = z.enum(['csv', 'jsonl', 'parquet']);
const STATUSES = JobStatusName.options;

export const Upload = z.object({
  upload_id: Uuid,
  format: UploadFormat,
  file_name: z.string(),
  bytes: z.int().min(1),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  created_at: Timestamp,
  expires_at: Timestamp.describe(
    'When the retention sweep deletes it (kept longer while a pending or running job names it)',
  ),
});

export const UploadDetail = Upload.extend({
  jobs: z
    .array(z.object({ id: Uuid, status: JobStatusName, created_at: Timestamp }))
    .describe('The jobs that named it as their source, newest first (at most 20)'),
});

const iso = (t: WireTimestamp | undefined) =>
  t ? timestampDate(t).toISOString() : new Date(0).toISOString();

export function uploadJson(u: UploadMessage | undefined): z.input<typeof Upload> {
  if (!u) throw new Error('the pipeline service answered without an upload');
  return {
    upload_id: u.id,
    format: u.format as z.infer<typeof UploadFormat>,
    file_name: u.fileName,
    bytes: Number(u.bytes),
    sha256: u.sha256,
    created_at: iso(u.createdAt),
    expires_at: iso(u.expiresAt),
  };
}

export function uploadDetailJson(u: UploadMessage | undefined): z.input<typeof UploadDetail> {
  return {
    ...uploadJson(u),
    jobs: (u?.jobs ?? []).map((j) => ({
      id: j.id,
      status: STATUSES[j.status - 1] ?? 'pending',
      created_at: iso(j.createdAt),
    })),
  };
}
