import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, stat } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import type { ObjectStore } from '../../core/ports';

export interface S3Options {
  endpoint?: string;
  region: string;
  bucket: string;
  /** Keys of this deployment live under this prefix ('' for the bucket's root). */
  prefix: string;
  accessKeyId?: string;
  secretAccessKey?: string;
  /** Path-style URLs (bucket in the path), which most S3-compatible servers need. */
  forcePathStyle: boolean;
}

const notFound = (err: unknown) =>
  err instanceof S3ServiceException &&
  (err.$metadata.httpStatusCode === 404 || err.name === 'NoSuchKey' || err.name === 'NotFound');

/**
 * Object storage on S3 or an S3-compatible server (SeaweedFS, MinIO, Ceph). Files stream in and
 * out; a download lands under a temporary name first, so a reader never sees half a file.
 */
export class S3ObjectStore implements ObjectStore {
  private readonly client: S3Client;

  constructor(private readonly options: S3Options) {
    this.client = new S3Client({
      region: options.region,
      forcePathStyle: options.forcePathStyle,
      ...(options.endpoint ? { endpoint: options.endpoint } : {}),
      ...(options.accessKeyId && options.secretAccessKey
        ? {
            credentials: {
              accessKeyId: options.accessKeyId,
              secretAccessKey: options.secretAccessKey,
            },
          }
        : {}),
    });
  }

  private key(key: string) {
    return this.options.prefix ? `${this.options.prefix.replace(/\/$/, '')}/${key}` : key;
  }

  async putFile(key: string, localPath: string) {
    const { size } = await stat(localPath);
    await this.client.send(
      new PutObjectCommand({
        Bucket: this.options.bucket,
        Key: this.key(key),
        Body: createReadStream(localPath),
        ContentLength: size,
      }),
    );
  }

  async getFile(key: string, localPath: string) {
    const res = await this.client.send(
      new GetObjectCommand({ Bucket: this.options.bucket, Key: this.key(key) }),
    );
    await mkdir(path.dirname(localPath), { recursive: true });
    const tmp = `${localPath}.${process.pid}.part`;
    await pipeline(res.Body as Readable, createWriteStream(tmp));
    await rename(tmp, localPath);
  }

  async putBytes(key: string, bytes: Uint8Array) {
    await this.client.send(
      new PutObjectCommand({ Bucket: this.options.bucket, Key: this.key(key), Body: bytes }),
    );
  }

  async getBytes(key: string) {
    try {
      const res = await this.client.send(
        new GetObjectCommand({ Bucket: this.options.bucket, Key: this.key(key) }),
      );
      return await res.Body!.transformToByteArray();
    } catch (err) {
      if (notFound(err)) return undefined;
      throw err;
    }
  }

  async exists(key: string) {
    try {
      await this.client.send(
        new HeadObjectCommand({ Bucket: this.options.bucket, Key: this.key(key) }),
      );
      return true;
    } catch (err) {
      if (notFound(err)) return false;
      throw err;
    }
  }

  /** S3 answers a delete of a missing key with success too. */
  async delete(key: string) {
    await this.client.send(
      new DeleteObjectCommand({ Bucket: this.options.bucket, Key: this.key(key) }),
    );
  }

  uri(key: string) {
    return `s3://${this.options.bucket}/${this.key(key)}`;
  }

  close() {
    this.client.destroy();
  }
}
