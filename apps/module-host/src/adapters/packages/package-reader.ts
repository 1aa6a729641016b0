import { lstat, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { Parser, type ReadEntry } from 'tar';
import { AionError } from '@aion/errors';
import type { RawPackage } from '../../core/package-service';

export const PACKAGE_LIMITS = { maxFiles: 512, maxTotalBytes: 64 * 1024 * 1024 };

function tooLarge(): AionError {
  return new AionError(
    'validation.payload_too_large',
    `a package may hold at most ${PACKAGE_LIMITS.maxFiles} files and ${PACKAGE_LIMITS.maxTotalBytes / 1024 / 1024} MiB`,
  );
}

/** Normalises an archive or directory entry name; refuses absolute paths and `..`. */
function safeRelative(name: string): string | undefined {
  const normal = path.posix.normalize(name.replace(/\\/g, '/')).replace(/^\.\//, '');
  if (
    normal.startsWith('/') ||
    normal === '..' ||
    normal.startsWith('../') ||
    normal.includes('\0')
  )
    return undefined;
  return normal.replace(/\/$/, '');
}

/**
 * Reads a package directory. Symbolic links are refused outright (a link could point the package
 * at any host file), as are special files; only regular files are taken.
 */
export async function readPackageDirectory(root: string): Promise<RawPackage> {
  const files = new Map<string, Uint8Array>();
  let total = 0;
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      const relative = path.relative(root, full).split(path.sep).join('/');
      const stat = await lstat(full);
      if (stat.isSymbolicLink())
        throw new AionError(
          'validation.unprocessable',
          `package contains a symbolic link (${relative}); links are not allowed`,
        );
      if (stat.isDirectory()) {
        await walk(full);
        continue;
      }
      if (!stat.isFile())
        throw new AionError(
          'validation.unprocessable',
          `package contains a special file (${relative})`,
        );
      total += stat.size;
      if (files.size >= PACKAGE_LIMITS.maxFiles || total > PACKAGE_LIMITS.maxTotalBytes)
        throw tooLarge();
      files.set(relative, new Uint8Array(await readFile(full)));
    }
  };
  try {
    await walk(root);
  } catch (err) {
    if (err instanceof AionError) throw err;
    throw new AionError(
      'validation.invalid_argument',
      `cannot read package directory ${path.basename(root)}`,
      { cause: err },
    );
  }
  return { files };
}

/** Reads a .tar or .tar.gz package from memory; links, devices and escaping paths are refused. */
export function readPackageTarball(bytes: Uint8Array): Promise<RawPackage> {
  return new Promise((resolve, reject) => {
    const files = new Map<string, Uint8Array>();
    let total = 0;
    let failed = false;
    const fail = (error: AionError) => {
      if (!failed) reject(error);
      failed = true;
    };
    const parser = new Parser({
      strict: true,
      onReadEntry: (entry: ReadEntry) => {
        const relative = safeRelative(entry.path);
        if (entry.type === 'Directory') return entry.resume();
        if (entry.type !== 'File' && entry.type !== 'OldFile' && entry.type !== 'ContiguousFile') {
          entry.resume();
          return fail(
            new AionError(
              'validation.unprocessable',
              `package archive contains a ${entry.type} entry (${entry.path}); only regular files are allowed`,
            ),
          );
        }
        if (!relative) {
          entry.resume();
          return fail(
            new AionError(
              'validation.unprocessable',
              `package archive entry ${JSON.stringify(entry.path)} escapes the package`,
            ),
          );
        }
        const chunks: Buffer[] = [];
        entry.on('data', (chunk: Buffer) => {
          total += chunk.length;
          if (total > PACKAGE_LIMITS.maxTotalBytes || files.size >= PACKAGE_LIMITS.maxFiles)
            return fail(tooLarge());
          chunks.push(chunk);
        });
        entry.on('end', () => files.set(relative, new Uint8Array(Buffer.concat(chunks))));
      },
    });
    parser.on('error', (err: Error) =>
      fail(
        new AionError(
          'validation.invalid_argument',
          'package is not a valid tar or tar.gz archive',
          { cause: err },
        ),
      ),
    );
    parser.on('end', () => {
      if (!failed) resolve({ files });
    });
    parser.end(Buffer.from(bytes));
  });
}
