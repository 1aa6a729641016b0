import { ModuleService } from '@aion/contracts';
import { InternalTokens } from '@aion/auth';
import { createGrpcClient } from '@aion/grpc';
import { CliError, type Output } from './output';

export interface InstallOptions {
  moduleHost?: string;
  tenant: string;
  timeoutMs: number;
}

/**
 * Installs a package from its registry on a module host (ModuleService.InstallModule with an OCI
 * reference, over gRPC): the host verifies it under the tenant's trust policy. Calls carry an
 * internal token made from AION_INTERNAL_TOKEN_SECRET, so this is an operator's tool on the
 * platform's network; the acting principal is an admin of `--tenant`.
 */
export async function moduleInstall(
  out: Output,
  reference: string,
  options: InstallOptions,
): Promise<number> {
  const secret = process.env.AION_INTERNAL_TOKEN_SECRET;
  if (!options.moduleHost) throw new CliError('--module-host <host:port> is required', 2);
  if (!secret) throw new CliError('AION_INTERNAL_TOKEN_SECRET must be set to call module-host', 2);
  const client = createGrpcClient(ModuleService, options.moduleHost, {
    tokens: new InternalTokens(secret, 'aionctl'),
    defaultDeadlineMs: options.timeoutMs,
    servicePrincipal: {
      kind: 'service',
      tenantId: options.tenant,
      subject: 'aionctl',
      owner: 'aionctl',
      roles: ['admin'], // installing is operations:manage, an admin's permission
    },
  });
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
