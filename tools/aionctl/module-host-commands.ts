import { ModuleService } from '@aion/contracts';
import { InternalTokens } from '@aion/auth';
import { createGrpcClient } from '@aion/grpc';
import { CliError, type Output } from './output';

export interface ModuleHostOptions {
  moduleHost?: string;
  tenant: string;
  timeoutMs: number;
}

/**
 * A ModuleService client for one command. Calls carry an internal token made from
 * AION_INTERNAL_TOKEN_SECRET, so these are an operator's tools on the platform's network; the
 * acting principal is an admin of `--tenant` (installs and the quarantine are operations:manage).
 */
function moduleHost(options: ModuleHostOptions) {
  const secret = process.env.AION_INTERNAL_TOKEN_SECRET;
  if (!options.moduleHost) throw new CliError('--module-host <host:port> is required', 2);
  if (!secret) throw new CliError('AION_INTERNAL_TOKEN_SECRET must be set to call module-host', 2);
  return createGrpcClient(ModuleService, options.moduleHost, {
    tokens: new InternalTokens(secret, 'aionctl'),
    defaultDeadlineMs: options.timeoutMs,
    servicePrincipal: {
      kind: 'service',
      tenantId: options.tenant,
      subject: 'aionctl',
      owner: 'aionctl',
      roles: ['admin'],
    },
  });
}

/** Installs a package from its registry: the host verifies it under the tenant's trust policy. */
export async function moduleInstall(
  out: Output,
  reference: string,
  options: ModuleHostOptions,
): Promise<number> {
  const client = moduleHost(options);
  try {
    const { module } = await client.installModule({
      source: { case: 'ociReference', value: reference },
    });
    out.result(
      {
        installed: true,
        name: module?.name,
        version: module?.version,
        digest_sha256: module?.digestSha256,
      },
      `installed ${module?.name}@${module?.version}`,
    );
    return 0;
  } finally {
    client.close();
  }
}

/** `quarantine list`, `quarantine show <id>`, `quarantine delete <id>`. */
export async function quarantine(
  out: Output,
  action: string | undefined,
  id: string | undefined,
  options: ModuleHostOptions,
): Promise<number> {
  if (action !== 'list' && ((action !== 'show' && action !== 'delete') || !id))
    throw new CliError('usage: aionctl module quarantine list | show <id> | delete <id>', 2);
  const client = moduleHost(options);
  try {
    if (action === 'list') {
      const { modules } = await client.listQuarantinedModules({ page: { pageSize: 100 } });
      const items = modules.map((m) => ({
        id: m.id,
        reference: m.reference,
        reason: m.reason,
        name: m.name,
        version: m.version,
      }));
      out.result(
        { quarantined: items },
        items.map((m) => `${m.id}\t${m.reason}\t${m.reference}`).join('\n') || '(empty)',
      );
    } else if (action === 'show') {
      const { module } = await client.getQuarantinedModule({ id: id! });
      out.result(
        {
          id: module?.id,
          reference: module?.reference,
          digest: module?.digest,
          name: module?.name,
          version: module?.version,
          reason: module?.reason,
          message: module?.message,
          quarantined_at: module?.quarantinedAt
            ? new Date(Number(module.quarantinedAt.seconds) * 1000).toISOString()
            : undefined,
        },
        `${module?.reference} (${module?.digest}): ${module?.reason}: ${module?.message}`,
      );
    } else {
      await client.deleteQuarantinedModule({ id: id! });
      out.result({ deleted: id }, `deleted ${id}`);
    }
    return 0;
  } finally {
    client.close();
  }
}
