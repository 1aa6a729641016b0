import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';

/**
 * Records appended to a local JSON-lines file, waiting on the disk when it is behind (memory
 * holds what one write holds). `abort` removes the file: a source that fails leaves nothing.
 */
export class JsonLinesSink {
  private failure: Error | undefined;

  private constructor(
    readonly path: string,
    private readonly out: WriteStream,
  ) {
    // A write error (disk full) fails the read at the next write or at close.
    out.on('error', (err) => (this.failure ??= err));
  }

  static async create(dir: string): Promise<JsonLinesSink> {
    await mkdir(dir, { recursive: true });
    const file = path.join(dir, `${randomUUID()}.jsonl`);
    return new JsonLinesSink(file, createWriteStream(file));
  }

  async write(record: Record<string, unknown>): Promise<void> {
    if (this.failure) throw this.failure;
    if (!this.out.write(`${JSON.stringify(record)}\n`))
      await Promise.race([once(this.out, 'drain'), once(this.out, 'close')]);
  }

  async close(): Promise<void> {
    if (this.failure) throw this.failure;
    this.out.end();
    await once(this.out, 'close');
    if (this.failure) throw this.failure;
  }

  readonly release = () => rm(this.path, { force: true });

  async abort(): Promise<void> {
    this.out.destroy();
    await this.release();
  }
}
