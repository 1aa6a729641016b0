import { realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { AionError } from '@aion/errors';
import type { Connector, SourceData } from '../../core/ports';
import { FORMATS, csvOptions, formatOf } from './source-format';

const refuse = (message: string, field = 'source.path') =>
  AionError.validation(message, [{ field, reason: 'invalid', message }]);

/**
 * Files inside one configured directory (the inbox): `{"type":"file","path":"sales.csv"}`. A path
 * that leaves it — absolute, with `..`, or through a symbolic link pointing out — is refused; the
 * check runs on the resolved real path when the file is opened, so a link planted later is caught.
 */
export class FileConnector implements Connector {
  readonly type = 'file';

  constructor(private readonly inbox: string) {}

  check(source: Record<string, unknown>): void {
    const p = source['path'];
    if (typeof p !== 'string' || p.trim() === '') throw refuse('source.path is required');
    if (p.includes('\0')) throw refuse('source.path is not a valid path');
    if (path.isAbsolute(p) || p.split(/[\\/]/).includes('..'))
      throw refuse('source.path must name a file inside the inbox (relative, without ..)');
    if (!formatOf(p)) throw refuse(`source.path must end in ${Object.keys(FORMATS).join(', ')}`);
    const delimiter = source['delimiter'];
    if (delimiter !== undefined && (typeof delimiter !== 'string' || delimiter.length !== 1))
      throw refuse('source.delimiter must be one character', 'source.delimiter');
  }

  async open(source: Record<string, unknown>): Promise<SourceData> {
    this.check(source);
    const rel = source['path'] as string;
    const root = await realpath(this.inbox).catch(() => {
      throw AionError.validation(`the inbox ${this.inbox} does not exist`, [
        { field: 'source.path', reason: 'not_found', message: 'no inbox directory' },
      ]);
    });
    const real = await realpath(path.join(root, rel)).catch(() => {
      throw AionError.validation(`source.path ${rel} does not exist in the inbox`, [
        { field: 'source.path', reason: 'not_found', message: rel },
      ]);
    });
    if (real !== root && !real.startsWith(root + path.sep))
      throw refuse('source.path resolves outside the inbox (a symbolic link?)');
    if (!(await stat(real)).isFile()) throw refuse(`source.path ${rel} is not a file`);
    const format = formatOf(rel)!;
    const csv = csvOptions(rel, source['delimiter']);
    return { kind: 'file', path: real, format, ...(csv ? { csv } : {}) };
  }
}
