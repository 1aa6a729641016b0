import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { AionError } from '@aion/errors';
import { DuckDbEngine } from './engine';

/** What a spec of the engine works with: an engine, and a scratch directory for its files. */
export interface EngineScratch {
  engine: DuckDbEngine;
  dir: string;
  /** Writes `text` to `name` in the scratch directory; its path. */
  csv(name: string, text: string): Promise<string>;
}

/**
 * For the engine's specs: a small engine (256MB, one thread, spilling into the scratch directory)
 * opened before the file's tests and closed after them, the directory removed.
 */
export function engineScratch(label: string): EngineScratch {
  const scratch = {
    async csv(name: string, text: string) {
      const file = path.join(scratch.dir, name);
      await writeFile(file, text);
      return file;
    },
  } as EngineScratch;
  beforeAll(async () => {
    scratch.dir = await mkdtemp(path.join(tmpdir(), `${label}-`));
    scratch.engine = new DuckDbEngine({
      memoryLimit: '256MB',
      threads: 1,
      tempDir: path.join(scratch.dir, 'spill'),
    });
  });
  afterAll(async () => {
    await scratch.engine?.close();
    if (scratch.dir) await rm(scratch.dir, { recursive: true, force: true });
  });
  return scratch;
}

/** The error `p` rejects with; fails the spec when it resolves. */
export async function failureOf(p: Promise<unknown>): Promise<AionError> {
  try {
    await p;
  } catch (err) {
    return err as AionError;
  }
  throw new Error('no error');
}
