import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { SecretSource } from '../../core/ports';

const SAFE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/**
 * Secrets as files, `<dir>/<tenant>/<NAME>` (a Kubernetes Secret per tenant mounted as a
 * directory, or a vault agent's output). Only the calling tenant's directory is read, and only
 * the names asked for; a tenant id or name that could leave the directory reads nothing.
 */
export class SecretDirectory implements SecretSource {
  constructor(private readonly dir: string | undefined) {}

  async read(tenantId: string, names: readonly string[]): Promise<Record<string, string>> {
    if (!this.dir || !SAFE.test(tenantId)) return {};
    const values: Record<string, string> = {};
    for (const name of names) {
      if (!SAFE.test(name)) continue;
      const value = await readFile(path.join(this.dir, tenantId, name), 'utf8').catch(
        () => undefined,
      );
      if (value !== undefined) values[name] = value.replace(/\n$/, '');
    }
    return values;
  }
}
