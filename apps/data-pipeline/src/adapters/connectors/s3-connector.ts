import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { AionError } from '@aion/errors';
import { dataError } from '../../core/model';
import type { Connector, SourceData } from '../../core/ports';
import type { EgressPolicy } from '../egress/egress-policy';
import type { DownloadJob, LookupReply, WireError, WorkerMessage } from './s3-download-protocol';
import { FORMATS, csvOptions, formatOf } from './source-format';

/** One configured S3 account (AION_PIPELINE_S3_SOURCES); a job names it, never holds a key. */
export interface S3SourceCredentials {
  endpoint?: string;
  region?: string;
  access_key_id?: string;
  secret_access_key?: string;
  force_path_style?: boolean;
}

const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const refuse = (field: string, message: string) =>
  AionError.validation(message, [{ field, reason: 'invalid', message }]);

/**
 * An object in S3-compatible storage (`{"type":"s3","credentials":"name","bucket":"b","key":
 * "sales.csv"}`): CSV, JSON lines or Parquet. The object streams to a local file (memory holds one
 * chunk; Parquet needs a seekable file anyway), on a worker thread, that the engine scans and the
 * stage then removes. Every connection goes through the egress policy; a download that breaks off
 * leaves no file.
 */
export class S3Connector implements Connector {
  readonly type = 's3';

  constructor(
    private readonly accounts: Record<string, S3SourceCredentials>,
    private readonly egress: EgressPolicy,
    private readonly scratchDir: string,
    private readonly maxBytes = 50 * 1024 ** 3,
  ) {}

  check(source: Record<string, unknown>): void {
    const { credentials, bucket, key, delimiter } = source;
    // A well-formed name that names nothing configured: the account is not found (as for
    // PostgreSQL connections), not a malformed request.
    if (typeof credentials === 'string' && credentials !== '' && !(credentials in this.accounts))
      throw AionError.notFound('S3 account', credentials);
    if (typeof credentials !== 'string' || !(credentials in this.accounts))
      throw refuse(
        'source.credentials',
        `source.credentials must name a configured S3 account (${Object.keys(this.accounts).join(', ') || 'none configured'})`,
      );
    if (typeof bucket !== 'string' || !BUCKET.test(bucket))
      throw refuse('source.bucket', 'source.bucket must be an S3 bucket name');
    if (typeof key !== 'string' || key === '' || key.length > 1024)
      throw refuse('source.key', 'source.key must name an object');
    if (!formatOf(key))
      throw refuse('source.key', `source.key must end in ${Object.keys(FORMATS).join(', ')}`);
    if (delimiter !== undefined && (typeof delimiter !== 'string' || delimiter.length !== 1))
      throw refuse('source.delimiter', 'source.delimiter must be one character');
    const endpoint = this.accounts[credentials]!.endpoint;
    if (endpoint) this.egress.checkUrl(new URL(endpoint), 'source.credentials');
  }

  async open(source: Record<string, unknown>, signal: AbortSignal): Promise<SourceData> {
    this.check(source);
    const key = source['key'] as string;
    await mkdir(this.scratchDir, { recursive: true });
    const local = path.join(this.scratchDir, `${randomUUID()}${path.extname(key).toLowerCase()}`);
    const release = () => rm(local, { force: true });
    try {
      await this.download(source, local, signal);
    } catch (err) {
      await release();
      throw this.failure(err, source);
    }
    const csv = csvOptions(key, source['delimiter']);
    return { kind: 'file', path: local, format: formatOf(key)!, release, ...(csv ? { csv } : {}) };
  }

  /**
   * The object to `local`, on a worker thread (s3-download.worker.ts: on this thread the body's
   * buffers cost more in garbage collection than the download itself). The worker's names are
   * resolved here, through the egress policy; an abort ends the worker and its download.
   */
  private download(source: Record<string, unknown>, local: string, signal: AbortSignal) {
    const account = this.accounts[source['credentials'] as string]!;
    const endpoint = account.endpoint ? new URL(account.endpoint) : undefined;
    const port = endpoint
      ? Number(endpoint.port || (endpoint.protocol === 'https:' ? 443 : 80))
      : 443;
    const lookup = this.egress.lookupFor(port);
    const job: DownloadJob = {
      client: {
        region: account.region ?? 'us-east-1',
        forcePathStyle: account.force_path_style ?? true,
        ...(account.endpoint ? { endpoint: account.endpoint } : {}),
        ...(account.access_key_id && account.secret_access_key
          ? {
              credentials: {
                accessKeyId: account.access_key_id,
                secretAccessKey: account.secret_access_key,
              },
            }
          : {}),
      },
      bucket: source['bucket'] as string,
      key: source['key'] as string,
      path: local,
      maxBytes: this.maxBytes,
    };
    return new Promise<void>((resolve, reject) => {
      const worker = new Worker(workerEntry(), { workerData: job });
      // A name the policy refused is the error, not the connection failure the SDK then reports.
      let refused: unknown;
      let settled = false;
      const finish = (err?: unknown) => {
        if (settled) return;
        settled = true;
        signal.removeEventListener('abort', onAbort);
        // Settled once the thread has stopped, so nothing writes the file after its removal.
        void worker.terminate().finally(() => (err === undefined ? resolve() : reject(err)));
      };
      const onAbort = () => finish(signal.reason ?? new Error('the download was aborted'));
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      worker.on('message', (m: WorkerMessage) => {
        if (m.type === 'lookup')
          return lookup(m.hostname, { all: true }, (err, addresses) => {
            if (err) refused = err;
            const reply: LookupReply = err
              ? { type: 'lookup', id: m.id, error: { message: err.message, code: err.code } }
              : { type: 'lookup', id: m.id, addresses: addresses as LookupReply['addresses'] };
            worker.postMessage(reply);
          });
        if (m.type === 'done') return finish();
        if (m.type === 'too_large')
          return finish(
            dataError(
              `s3://${String(source['bucket'])}/${String(source['key'])} is larger than ${this.maxBytes} bytes`,
              [{ field: 'source.key', reason: 'too_large', message: `${m.contentLength} bytes` }],
            ),
          );
        finish(refused instanceof AionError ? refused : new DownloadError(m.error));
      });
      worker.on('error', finish);
      worker.on('exit', (code) => finish(new Error(`the download worker exited (${code})`)));
    });
  }

  /** A missing object or a refused key is the source's fault (final); a broken stream is not. */
  private failure(err: unknown, source: Record<string, unknown>): unknown {
    if (err instanceof AionError) return err;
    const cause = (err as { cause?: unknown }).cause;
    if (cause instanceof AionError) return cause;
    const where = `s3://${String(source['bucket'])}/${String(source['key'])}`;
    if (err instanceof DownloadError && err.serviceError) {
      const status = err.status ?? 0;
      if (
        status === 404 ||
        status === 403 ||
        err.name === 'NoSuchKey' ||
        err.name === 'NoSuchBucket'
      )
        return dataError(`${where} cannot be read: ${err.name} (${status})`, [
          {
            field: 'source.key',
            reason: status === 403 ? 'forbidden' : 'not_found',
            message: err.message,
          },
        ]);
    }
    return new Error(`${where} could not be downloaded: ${(err as Error).message}`, { cause: err });
  }
}

/** An error of the download worker (an S3 service error keeps its name and HTTP status). */
class DownloadError extends Error {
  readonly status?: number;
  readonly serviceError: boolean;

  constructor(wire: WireError) {
    super(wire.message);
    this.name = wire.name;
    if (wire.status !== undefined) this.status = wire.status;
    this.serviceError = wire.serviceError;
  }
}

function workerEntry(): string {
  // Bundled services ship s3-download.worker.js beside main.js (tools/build/bundle.mjs).
  const bundled = path.join(__dirname, 's3-download.worker.js');
  return existsSync(bundled) ? bundled : path.join(__dirname, 's3-download.worker.dev.cjs');
}
