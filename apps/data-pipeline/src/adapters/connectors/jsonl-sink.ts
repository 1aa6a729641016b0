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
    const out = createWriteStream(file);
    // Opened before use: a file opened after `abort` removed it would be left behind.
    await once(out, 'open');
    return new JsonLinesSink(file, out);
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
    // Removed once the stream let go of it (a pending write could otherwise recreate it).
    const closed = once(this.out, 'close').catch(() => undefined);
    this.out.destroy();
    await closed;
    await this.release();
  }
}
