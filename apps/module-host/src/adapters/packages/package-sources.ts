import { realpath } from 'node:fs/promises';
import path from 'node:path';
import { AionError } from '@aion/errors';
import type { PackageSources } from '../../api/grpc-handlers';
import { readPackageDirectory, readPackageTarball } from './package-reader';

/**
 * Where packages may come from: uploaded archives always; host directories only under the
 * configured roots (resolved through symlinks first, so a link cannot reach outside them).
 */
export function packageSources(roots: string[]): PackageSources {
  const allowed = Promise.all(roots.map((r) => realpath(path.resolve(r)).catch(() => undefined)));
  return {
    fromTarball: (bytes) => readPackageTarball(bytes),
    fromPath: async (requested) => {
      const resolved = await realpath(path.resolve(requested)).catch(() => undefined);
      const bases = (await allowed).filter((r): r is string => Boolean(r));
      if (
        !resolved ||
        !bases.some((base) => resolved === base || resolved.startsWith(`${base}${path.sep}`))
      ) {
        throw new AionError(
          'auth.forbidden',
          'installing from this path is not allowed; upload the package as a tarball or add its directory to AION_MODULE_HOST_PACKAGE_ROOTS',
        );
      }
      return readPackageDirectory(resolved);
    },
  };
}
