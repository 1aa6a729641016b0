import { createHash, randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, open, rm } from 'node:fs/promises';
import path from 'node:path';
import { once } from 'node:events';
import { AionError } from '@aion/errors';
import type { JobStatus } from './model';
import type { ObjectStore } from './ports';
import { isExpired, refuseWhileInUse } from './upload-retention';

export const UPLOAD_FORMATS = ['csv', 'jsonl', 'parquet'] as const;
export type UploadFormat = (typeof UPLOAD_FORMATS)[number];

export interface Upload {
  id: string;
  tenantId: string;
  format: UploadFormat;
  fileName: string;
  bytes: number;
  sha256: string;
  objectKey: string;
  idempotencyKey: string;
  createdAt: Date;
  /** When the retention sweep deletes it, unless a pending or running job still names it. */
  expiresAt: Date;
}

/** What is recorded of a new upload; it expires `retentionMs` after the time it is recorded at. */
export type NewUpload = Omit<Upload, 'tenantId' | 'createdAt' | 'expiresAt'> & {
  retentionMs: number;
};

/** A job that named an upload as its source. */
export interface UploadJob {
  id: string;
  status: JobStatus;
  createdAt: Date;
}

/** Why an upload went: its tenant deleted it, or its retention ran out. */
export type UploadDeletionReason = 'deleted' | 'expired';

/**
 * Runs inside the transaction that holds the upload's row, before the row goes: refuses (throws)
 * or removes the upload's bytes. `active` are the pending and running jobs naming it.
 */
export type ReleaseUpload = (upload: Upload, active: UploadJob[]) => Promise<void>;

/** Upload records in the caller's tenant (another tenant's upload is simply not there). */
export interface UploadStore {
  /** Stores it, or finds the upload its idempotency key already names (`created` false). */
  create(upload: NewUpload): Promise<{ upload: Upload; created: boolean }>;
  get(id: string): Promise<Upload | undefined>;
  byIdempotencyKey(key: string): Promise<Upload | undefined>;
  /** Newest first. */
  list(
    window: { offset: number; limit: number },
    filter: { format?: UploadFormat },
  ): Promise<{ items: Upload[]; total: number }>;
  /** The jobs that named the upload, newest first, at most `limit`. */
  jobsOf(id: string, limit: number): Promise<UploadJob[]>;
  /**
   * Deletes the upload with its `pipeline.upload.deleted` event (reason `deleted`) once
   * `release` let it; waits for another deletion of it. Undefined when there is no such upload.
   */
  delete(id: string, release: ReleaseUpload): Promise<Upload | undefined>;
  /** Expired uploads of every tenant, the longest expired first: candidates for `expire`. */
  expired(limit: number): Promise<{ id: string; tenantId: string }[]>;
  /**
   * Deletes the candidate (reason `expired`) if it is still expired, no pending or running job
   * names it, and no one else is deleting it right now (then undefined: skipped, not waited for).
   */
  expire(
    candidate: { id: string; tenantId: string },
    release: ReleaseUpload,
  ): Promise<Upload | undefined>;
}

/** How many jobs GetUpload lists with an upload. */
export const UPLOAD_JOBS_SHOWN = 20;

export interface UploadHeader {
  format: string;
  fileName: string;
  idempotencyKey: string;
}

/** What a file name may be once shown back: no path, no control characters, at most 255. */
const FILE_NAME = new RegExp(String.raw`^[^/\\\u0000-\u001f\u007f]{0,255}$`, 'u');
const IDEMPOTENCY_KEY = /^[\x21-\x7e]{0,255}$/;
const PARQUET_MAGIC = 'PAR1';

const invalid = (field: string, message: string) =>
  AionError.validation(message, [{ field, reason: 'invalid', message }]);

const objectKeyOf = (tenantId: string, id: string, format: UploadFormat) =>
  `uploads/${tenantId}/${id}/data.${format}`;

const sameUpload = (a: Upload, sha256: string, format: string) =>
  a.sha256 === sha256 && a.format === format;

/**
 * Receives uploaded files: streams the bytes to scratch while hashing and counting them (refused
 * as soon as they pass the limit), refuses an empty one, tells the format of one sent without
 * (application/octet-stream) from its bytes, then puts them in the object store under the
 * tenant and records them. Nothing is recorded for a refused or interrupted upload, and its scratch file goes.
 */
export class UploadService {
  constructor(
    private readonly store: UploadStore,
    private readonly objects: ObjectStore,
    private readonly options: { maxBytes: number; workDir: string; retentionMs: number },
  ) {}

  get maxBytes(): number {
    return this.options.maxBytes;
  }

  async receive(
    tenantId: string,
    header: UploadHeader,
    chunks: AsyncIterable<Uint8Array>,
    signal: AbortSignal,
  ): Promise<{ upload: Upload; replayed: boolean }> {
    if (header.format !== '' && !UPLOAD_FORMATS.includes(header.format as UploadFormat))
      throw invalid('format', `format must be one of ${UPLOAD_FORMATS.join(', ')}, or empty`);
    if (!FILE_NAME.test(header.fileName))
      throw invalid(
        'file_name',
        'file_name must be at most 255 characters, without / \\ or controls',
      );
    if (!IDEMPOTENCY_KEY.test(header.idempotencyKey))
      throw invalid(
        'idempotency_key',
        'the Idempotency-Key must be 1-255 visible ASCII characters',
      );
    const id = randomUUID();
    const dir = path.join(this.options.workDir, 'uploads', tenantId);
    await mkdir(dir, { recursive: true });
    const scratch = path.join(dir, `${id}.part`);
    try {
      const { bytes, sha256 } = await this.spool(chunks, scratch, signal);
      if (bytes === 0) throw invalid('body', 'the upload is empty');
      const ends = await endsOf(scratch, bytes);
      // What the caller names is taken as named: a "Parquet" file that is none fails the job
      // that reads it (the connector checks the magic), as any malformed file does.
      const format = (header.format || sniff(ends)) as UploadFormat;
      if (header.idempotencyKey) {
        const prior = await this.store.byIdempotencyKey(header.idempotencyKey);
        if (prior) return { upload: this.repeatOf(prior, sha256, format), replayed: true };
      }
      const objectKey = objectKeyOf(tenantId, id, format);
      await this.objects.putFile(objectKey, scratch);
      const { upload, created } = await this.store.create({
        id,
        format,
        fileName: header.fileName,
        bytes,
        sha256,
        objectKey,
        idempotencyKey: header.idempotencyKey,
        retentionMs: this.options.retentionMs,
      });
      // A concurrent request with the same key won: its upload is the one the key names.
      return created
        ? { upload, replayed: false }
        : { upload: this.repeatOf(upload, sha256, format), replayed: true };
    } finally {
      await rm(scratch, { force: true });
    }
  }

  private repeatOf(prior: Upload, sha256: string, format: string): Upload {
    if (!sameUpload(prior, sha256, format))
      throw new AionError(
        'validation.idempotency_key_reused',
        'this Idempotency-Key was used for an upload of other bytes',
      );
    return prior;
  }

  private async spool(chunks: AsyncIterable<Uint8Array>, file: string, signal: AbortSignal) {
    const hash = createHash('sha256');
    const out = createWriteStream(file);
    let bytes = 0;
    try {
      for await (const chunk of chunks) {
        signal.throwIfAborted();
        bytes += chunk.length;
        if (bytes > this.options.maxBytes)
          throw new AionError(
            'validation.payload_too_large',
            `the upload exceeds ${this.options.maxBytes} bytes`,
          );
        hash.update(chunk);
        if (!out.write(chunk)) await once(out, 'drain', { signal });
      }
    } finally {
      out.end();
      await once(out, 'close').catch(() => undefined);
    }
    return { bytes, sha256: hash.digest('hex') };
  }

  /** Copies an upload's bytes from the object store to a local file. */
  fetch(upload: Upload, localPath: string): Promise<void> {
    return this.objects.getFile(upload.objectKey, localPath);
  }

  async get(id: string): Promise<Upload> {
    const upload = await this.store.get(id);
    if (!upload) throw AionError.notFound('upload', id);
    return upload;
  }

  /** The upload as a new job's source: an expired one is gone for that (404), if not swept yet. */
  async live(id: string, now = new Date()): Promise<Upload> {
    const upload = await this.get(id);
    if (isExpired(upload, now)) throw AionError.notFound('upload', id);
    return upload;
  }

  list(window: { offset: number; limit: number }, filter: { format?: UploadFormat }) {
    return this.store.list(window, filter);
  }

  /** The upload with the jobs that named it (newest first, at most UPLOAD_JOBS_SHOWN). */
  async describe(id: string): Promise<{ upload: Upload; jobs: UploadJob[] }> {
    const upload = await this.get(id);
    return { upload, jobs: await this.store.jobsOf(id, UPLOAD_JOBS_SHOWN) };
  }

  /**
   * Deletes the upload's bytes and record: 404 when there is none (or it was deleted already),
   * 409 (state.upload_in_use) while a pending or running job names it.
   */
  async delete(id: string): Promise<Upload> {
    const deleted = await this.store.delete(id, async (upload, active) => {
      refuseWhileInUse(upload, active);
      await this.objects.delete(upload.objectKey);
    });
    if (!deleted) throw AionError.notFound('upload', id);
    return deleted;
  }

  /**
   * One round of the retention sweep: deletes up to `limit` expired uploads no pending or running
   * job names. Replicas may sweep at once: each upload is deleted (and announced) by one of them.
   * Returns what this round deleted and what failed (kept, and tried again next round).
   */
  async sweep(
    limit: number,
  ): Promise<{ deleted: Upload[]; failed: { id: string; error: unknown }[] }> {
    const deleted: Upload[] = [];
    const failed: { id: string; error: unknown }[] = [];
    for (const candidate of await this.store.expired(limit)) {
      const gone = await this.store
        .expire(candidate, (upload) => this.objects.delete(upload.objectKey))
        .catch((error: unknown) => {
          failed.push({ id: candidate.id, error });
          return undefined;
        });
      if (gone) deleted.push(gone);
    }
    return { deleted, failed };
  }
}

/** The first kilobyte and the last four bytes: enough to tell the formats apart. */
export async function endsOf(file: string, bytes: number): Promise<{ head: Buffer; tail: Buffer }> {
  const handle = await open(file, 'r');
  try {
    const head = Buffer.alloc(Math.min(1024, bytes));
    const tail = Buffer.alloc(Math.min(4, bytes));
    await handle.read(head, 0, head.length, 0);
    await handle.read(tail, 0, tail.length, bytes - tail.length);
    return { head, tail };
  } finally {
    await handle.close();
  }
}

/** A Parquet file starts and ends with PAR1. */
export const isParquet = (ends: { head: Buffer; tail: Buffer }, bytes: number) =>
  bytes >= 12 &&
  ends.head.subarray(0, 4).toString('latin1') === PARQUET_MAGIC &&
  ends.tail.toString('latin1') === PARQUET_MAGIC;

/** No format given (application/octet-stream): Parquet by its magic, JSON lines by `{`, else CSV. */
function sniff(ends: { head: Buffer; tail: Buffer }): UploadFormat {
  if (isParquet(ends, Number.MAX_SAFE_INTEGER)) return 'parquet';
  return ends.head.toString('latin1').trimStart().startsWith('{') ? 'jsonl' : 'csv';
}
