import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { JobStatus } from '@aion/contracts';
import { openApiDocument } from '../routing/openapi';
import { uploadDetailJson } from './pipeline-upload-json';
import type { PipelineClient } from './pipeline-json';
import { formatOfContentType, uploadRoutes } from './pipeline-uploads';

describe('POST /api/v1/pipeline/uploads', () => {
  it('takes the format from the Content-Type (any parameters), octet-stream left to the service', () => {
    expect(formatOfContentType('text/csv; charset=utf-8')).toBe('csv');
    expect(formatOfContentType('Application/X-NDJSON')).toBe('jsonl');
    expect(formatOfContentType('application/jsonl')).toBe('jsonl');
    expect(formatOfContentType('application/vnd.apache.parquet')).toBe('parquet');
    expect(formatOfContentType('application/octet-stream')).toBe('sniff');
  });

  it.each([undefined, '', 'application/json', 'text/plain', 'multipart/form-data; boundary=x'])(
    'refuses %p with 415',
    (type) => {
      expect(() => formatOfContentType(type)).toThrow(
        expect.objectContaining({ code: 'validation.unsupported_media_type', httpStatus: 415 }),
      );
    },
  );

  it('documents a binary body of exactly the media types it takes, and 413/415', () => {
    const routes = uploadRoutes({} as PipelineClient, { maxBytes: 1024, requestTimeoutMs: 1000 });
    const doc = openApiDocument(routes, '0') as {
      paths: Record<string, { post: Record<string, unknown> }>;
    };
    const op = doc.paths['/api/v1/pipeline/uploads']!.post as {
      requestBody: { required: boolean; content: Record<string, { schema: unknown }> };
      responses: Record<string, unknown>;
      parameters: { name: string }[];
    };
    expect(op.requestBody.required).toBe(true);
    expect(Object.keys(op.requestBody.content).sort()).toEqual([
      'application/jsonl',
      'application/octet-stream',
      'application/vnd.apache.parquet',
      'application/x-ndjson',
      'text/csv',
    ]);
    for (const media of Object.values(op.requestBody.content))
      expect(media.schema).toEqual({ type: 'string', format: 'binary', minLength: 1 });
    expect(Object.keys(op.responses)).toEqual(expect.arrayContaining(['201', '413', '415', '422']));
    expect(op.parameters.map((p) => p.name)).toEqual(['filename', 'Idempotency-Key']);
  });

  it('documents listing, reading and deleting uploads, linked from the upload made', () => {
    const routes = uploadRoutes({} as PipelineClient, { maxBytes: 1024, requestTimeoutMs: 1000 });
    type Op = {
      operationId: string;
      responses: Record<string, { links?: Record<string, { operationId: string }> }>;
      parameters?: { name: string }[];
    };
    const doc = openApiDocument(routes, '0') as { paths: Record<string, Record<string, Op>> };
    const list = doc.paths['/api/v1/pipeline/uploads']!['get']!;
    expect(list.operationId).toBe('listPipelineUploads');
    expect(list.parameters!.map((p) => p.name)).toEqual(['limit', 'page_token', 'format']);
    const one = doc.paths['/api/v1/pipeline/uploads/{id}']!;
    expect(Object.keys(one['get']!.responses)).toEqual(expect.arrayContaining(['200', '404']));
    expect(Object.keys(one['delete']!.responses)).toEqual(
      expect.arrayContaining(['204', '404', '409']),
    );
    const links = doc.paths['/api/v1/pipeline/uploads']!['post']!.responses['201']!.links!;
    expect(Object.values(links).map((l) => l.operationId)).toEqual([
      'getPipelineUpload',
      'deletePipelineUpload',
    ]);
  });
});

describe('upload JSON', () => {
  it('names the jobs that used an upload by status, times as ISO strings', () => {
    const at = timestampFromDate(new Date('2026-12-01T10:00:00Z'));
    const body = uploadDetailJson({
      id: 'u',
      format: 'csv',
      fileName: 'a.csv',
      bytes: 3n,
      sha256: 'ab',
      createdAt: at,
      expiresAt: timestampFromDate(new Date('2026-12-08T10:00:00Z')),
      jobs: [{ id: 'j', status: JobStatus.RUNNING, createdAt: at }],
    } as Parameters<typeof uploadDetailJson>[0]);
    expect(body).toMatchObject({
      upload_id: 'u',
      bytes: 3,
      created_at: '2026-12-01T10:00:00.000Z',
      expires_at: '2026-12-08T10:00:00.000Z',
      jobs: [{ id: 'j', status: 'running', created_at: '2026-12-01T10:00:00.000Z' }],
    });
  });
});
