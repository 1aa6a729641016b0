import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { AionError } from '@aion/errors';
import type { Connector, SourceData } from '../../core/ports';
import { dataError } from '../../core/model';
import { endsOf, isParquet, type UploadService } from '../../core/uploads';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const refuse = (field: string, message: string) =>
  AionError.validation(message, [{ field, reason: 'invalid', message }]);

/**
 * A file the tenant uploaded (POST /api/v1/pipeline/uploads): `{"type":"upload","upload_id":...}`.
 * The upload is looked up in the caller's tenant, so another tenant's id is not found (404) when
 * the job is submitted, nor is an expired one; the worker copies it from the object store to
 * scratch to read it.
 */
export class UploadConnector implements Connector {
  readonly type = 'upload';

  constructor(
    private readonly uploads: UploadService,
    private readonly downloads: string,
  ) {}

  /** At submission: an expired upload (not swept yet) is no source for a new job either. */
  async check(source: Record<string, unknown>): Promise<void> {
    await this.uploads.live(this.uploadIdOf(source));
  }

  private uploadIdOf(source: Record<string, unknown>): string {
    const { type: _type, upload_id: id, delimiter, ...rest } = source;
    const extra = Object.keys(rest)[0];
    if (extra !== undefined)
      throw refuse(`source.${extra}`, `source.${extra} is not a setting of an upload source`);
    if (typeof id !== 'string' || id === '')
      throw refuse('source.upload_id', 'source.upload_id is required');
    if (delimiter !== undefined && (typeof delimiter !== 'string' || delimiter.length !== 1))
      throw refuse('source.delimiter', 'source.delimiter must be one character');
    if (!UUID.test(id)) throw AionError.notFound('upload', id);
    return id;
  }

  /** A queued job reads its upload even past its expiry: the sweep keeps it until the job ends. */
  async open(source: Record<string, unknown>, signal: AbortSignal): Promise<SourceData> {
    const upload = await this.uploads.get(this.uploadIdOf(source));
    signal.throwIfAborted();
    const dir = path.join(this.downloads, upload.tenantId);
    await mkdir(dir, { recursive: true });
    const local = path.join(dir, `${upload.id}-${process.pid}-${Date.now()}.${upload.format}`);
    await this.uploads.fetch(upload, local);
    if (
      upload.format === 'parquet' &&
      !isParquet(await endsOf(local, upload.bytes), upload.bytes)
    ) {
      await rm(local, { force: true });
      throw dataError(`upload ${upload.id} is not a Parquet file`, [
        { field: 'source.upload_id', reason: 'invalid', message: 'no PAR1 magic at both ends' },
      ]);
    }
    const delimiter = source['delimiter'];
    return {
      kind: 'file',
      path: local,
      format: upload.format,
      ...(upload.format === 'csv' && typeof delimiter === 'string' ? { csv: { delimiter } } : {}),
      release: () => rm(local, { force: true }),
    };
  }
}
