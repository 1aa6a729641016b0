import type { Request, Response } from 'express';
import * as z from 'zod/v4';
import type { MessageInitShape } from '@bufbuild/protobuf';
import type { UploadSourceRequestSchema } from '@aion/contracts';
import { AionError } from '@aion/errors';
import { route, type Route } from '../routing/route';
import { PageInfo, PageQuery, Uuid } from '../../wire-schemas';
import { BASE, type PipelineClient } from './pipeline-json';
import {
  Upload,
  UploadDetail,
  UploadFormat,
  uploadDetailJson,
  uploadJson,
} from './pipeline-upload-json';
import { page, pageRequest } from './sovereign-json';

/**
 * Media types an upload may be sent as, and the format each means (octet-stream: the service
 * tells it from the bytes).
 */
const MEDIA_TYPES = {
  'text/csv': 'csv',
  'application/x-ndjson': 'jsonl',
  'application/jsonl': 'jsonl',
  'application/vnd.apache.parquet': 'parquet',
  'application/octet-stream': undefined,
} as const;
type Format = 'csv' | 'jsonl' | 'parquet';

/** An upload may take this long end to end (a large file over a slow link). */
const UPLOAD_DEADLINE_MS = 30 * 60_000;
/** Bytes per gRPC message: well under the 4 MiB message limit, few enough messages per file. */
const CHUNK_BYTES = 256 * 1024;

type UploadMessage = MessageInitShape<typeof UploadSourceRequestSchema>;

/** The format a Content-Type names, or 415. */
export function formatOfContentType(contentType: string | undefined): Format | 'sniff' {
  const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (!(type in MEDIA_TYPES))
    throw new AionError(
      'validation.unsupported_media_type',
      `send the file as one of ${Object.keys(MEDIA_TYPES).join(', ')}`,
    );
  return MEDIA_TYPES[type as keyof typeof MEDIA_TYPES] ?? 'sniff';
}

const tooLarge = (res: Response, max: number) => {
  // The rest of the body is not read: the connection closes after this answer.
  res.setHeader('Connection', 'close');
  return new AionError('validation.payload_too_large', `the upload exceeds ${max} bytes`);
};

/**
 * The request body as upload messages: the header (format, file name, Idempotency-Key), then
 * the bytes in chunks of about CHUNK_BYTES, refused past `max` bytes.
 */
async function* uploadMessages(
  req: Request,
  res: Response,
  options: { format: Format | 'sniff'; fileName: string; max: number },
): AsyncIterable<UploadMessage> {
  yield {
    part: {
      case: 'header',
      value: {
        // Empty: the service tells the format from the bytes it received.
        format: options.format === 'sniff' ? '' : options.format,
        fileName: options.fileName,
        idempotencyKey: req.get('idempotency-key') ?? '',
      },
    },
  };
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let total = 0;
  for await (const piece of req as AsyncIterable<Buffer>) {
    total += piece.length;
    if (total > options.max) throw tooLarge(res, options.max);
    pending.push(piece);
    pendingBytes += piece.length;
    if (pendingBytes < CHUNK_BYTES) continue;
    yield { part: { case: 'chunk', value: Buffer.concat(pending) } };
    pending = [];
    pendingBytes = 0;
  }
  if (total === 0)
    throw AionError.validation('the upload is empty', [
      { field: 'body', reason: 'required', message: 'send the file as the body' },
    ]);
  if (pendingBytes) yield { part: { case: 'chunk', value: Buffer.concat(pending) } };
}

const FileName = z
  .string()
  // Code points, as JSON Schema counts them (the u flag), not UTF-16 units.
  .regex(new RegExp(String.raw`^[^/\\\u0000-\u001f\u007f]{1,255}$`, 'u'))
  .describe('The file name to show for it (no path)');

/**
 * /api/v1/pipeline/uploads: POST streams a file through to the data-pipeline's object store; the
 * tenant's uploads are listed, read (with the jobs that named them) and deleted.
 */
export function uploadRoutes(
  pipeline: PipelineClient,
  options: { maxBytes: number; requestTimeoutMs: number },
): Route[] {
  const o = { deadlineMs: options.requestTimeoutMs };
  const tag = 'pipeline';
  const IdPath = z.strictObject({ id: Uuid });
  return [
    route({
      method: 'post',
      path: `${BASE}/uploads`,
      operationId: 'uploadPipelineSource',
      summary: `Upload a CSV, JSON-lines or Parquet file (the body, streamed; at most ${options.maxBytes} bytes) to name as a job source: {"type":"upload","upload_id":...}`,
      tag: 'pipeline',
      access: 'tasks:submit',
      request: {
        query: z.strictObject({ filename: FileName.optional() }),
        stream: { contentTypes: Object.keys(MEDIA_TYPES) },
      },
      links: {
        GetUpload: {
          operationId: 'getPipelineUpload',
          parameters: { id: '$response.body#/upload_id' },
        },
        DeleteUpload: {
          operationId: 'deletePipelineUpload',
          parameters: { id: '$response.body#/upload_id' },
        },
      },
      responses: {
        201: {
          description:
            'Stored in the tenant\'s staging area with its sha256 (application/octet-stream: Parquet by its magic, JSON lines when it opens with "{", else CSV)',
          schema: Upload,
        },
      },
      async handle({ req, res, query, signal }) {
        const format = formatOfContentType(req.get('content-type'));
        const declared = Number(req.get('content-length') ?? NaN);
        if (declared > options.maxBytes) throw tooLarge(res, options.maxBytes);
        if (declared === 0)
          throw AionError.validation('the upload is empty', [
            { field: 'body', reason: 'required', message: 'send the file as the body' },
          ]);
        const { upload } = await pipeline.uploadSource(
          uploadMessages(req, res, {
            format,
            fileName: query.filename ?? '',
            max: options.maxBytes,
          }),
          { deadlineMs: UPLOAD_DEADLINE_MS, signal },
        );
        return { status: 201, body: uploadJson(upload) };
      },
    }),
    route({
      method: 'get',
      path: `${BASE}/uploads`,
      operationId: 'listPipelineUploads',
      summary: "The tenant's uploads, newest first",
      tag,
      access: 'tasks:read',
      request: { query: PageQuery.extend({ format: UploadFormat.optional() }) },
      responses: {
        200: { description: 'Uploads', schema: z.object({ data: z.array(Upload), ...PageInfo }) },
      },
      async handle({ query }) {
        const r = await pipeline.listUploads(
          { ...pageRequest(query), format: query.format ?? '' },
          o,
        );
        return { status: 200, body: { data: r.uploads.map(uploadJson), ...page(r.page) } };
      },
    }),
    route({
      method: 'get',
      path: `${BASE}/uploads/{id}`,
      operationId: 'getPipelineUpload',
      summary: 'An upload: format, size, sha256, when it expires, and the jobs that named it',
      tag,
      access: 'tasks:read',
      request: { path: IdPath },
      responses: { 200: { description: 'The upload', schema: UploadDetail } },
      errors: [404],
      async handle({ path }) {
        const { upload } = await pipeline.getUpload({ id: path.id }, o);
        return { status: 200, body: uploadDetailJson(upload) };
      },
    }),
    route({
      method: 'delete',
      path: `${BASE}/uploads/{id}`,
      operationId: 'deletePipelineUpload',
      summary:
        'Delete an upload: its bytes and its record (409 state.upload_in_use while a pending or running job names it)',
      tag,
      access: 'tasks:submit',
      request: { path: IdPath },
      responses: { 204: { description: 'Deleted' } },
      errors: [404, 409],
      async handle({ path }) {
        await pipeline.deleteUpload({ id: path.id }, o);
        return { status: 204 };
      },
    }),
  ];
}
