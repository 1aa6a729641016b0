import { open } from 'node:fs/promises';
import path from 'node:path';
import { isValidTenantId } from '@aion/tenancy';
import { SECRET_REF } from '../../core/llm-tracing';
import type { TenantSecrets } from '../../core/llm-tracing-service';

/** A Langfuse key is tens of bytes; a larger file is not one (and is not read into memory). */
const MAX_BYTES = 4096;

/**
 * Tenants' secrets held by reference, never in the database: the file
 * `<dir>/<tenant_id>.<name>` in a directory the deployment provides, typically a Kubernetes
 * Secret mounted as a volume (its keys are flat file names, hence the dot rather than a
 * subdirectory), or a vault agent's output. Chosen over encrypting keys at rest in PostgreSQL
 * (an AES-GCM envelope) because then the key never passes through the API, the service's
 * memory between calls, its logs, its events, nor its backups, and rotation and revocation stay
 * with the operator's secret store (kubelet refreshes a mounted Secret; each read takes the
 * current file) instead of a key-encryption key this service would have to be given anyway.
 *
 * A tenant id has no dot and a name cannot hold `/` nor start with a dot, so the first dot
 * splits every file name one way: a tenant only ever reaches its own `<tenant_id>.*` files.
 */
export class SecretFiles implements TenantSecrets {
  constructor(private readonly dir: string | undefined) {}

  get configured() {
    return this.dir !== undefined;
  }

  async read(tenantId: string, name: string): Promise<string | undefined> {
    if (!this.dir || !isValidTenantId(tenantId) || !SECRET_REF.test(name)) return undefined;
    const file = await open(path.join(this.dir, `${tenantId}.${name}`), 'r').catch(() => undefined);
    if (!file) return undefined;
    try {
      if (!(await file.stat()).isFile()) return undefined;
      const buffer = Buffer.alloc(MAX_BYTES + 1);
      const { bytesRead } = await file.read(buffer, 0, buffer.length, 0);
      if (bytesRead > MAX_BYTES) return undefined;
      // Files written by hand or `kubectl create secret --from-file` often end in a newline.
      const value = buffer
        .subarray(0, bytesRead)
        .toString('utf8')
        .replace(/\r?\n$/, '');
      return value === '' ? undefined : value;
    } finally {
      await file.close();
    }
  }
}
