import { openApiDocument } from '../routing/openapi';
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
    const routes = uploadRoutes({} as PipelineClient, { maxBytes: 1024 });
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
});
