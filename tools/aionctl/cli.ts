/**
 * aionctl: Aion's operator CLI (`npx aionctl --help` from the repository root).
 * Exit codes: 0 done; 1 refused (a package that does not verify, an install refused); 2 bad
 * usage; 3 the registry or module host failed (unreachable, timed out, answered garbage).
 */
import { parseArgs } from 'node:util';
import { AionError } from '@aion/errors';
import { moduleInstall, quarantine } from './module-host-commands';
import {
  keyGenerate,
  moduleBuild,
  moduleList,
  modulePush,
  moduleSign,
  moduleVerify,
} from './module-commands';
import { CliError, Output } from './output';
import { verifyReceiptCommand } from './verify-receipt';

const HELP = `usage: aionctl <command> [options]

  module build <dir> [--out <prefix>] [--component name@version|purl ...]
      pack a package directory (deterministic tar.gz) and its CycloneDX SBOM
  module push <dir> <registry/repository:tag>
      push the package as an OCI artifact with its SBOM attached as a referrer
  module sign <registry/repository:tag|@digest> --key <private.pem>
      sign the package manifest and its SBOMs (sigstore bundles attached as referrers)
  module verify <reference> [--key <public.pem>] [--deny <component> ...]
        [--trusted-root <trusted_root.json> --certificate-identity[-regexp] <san>
         --certificate-oidc-issuer[-regexp] <issuer>]
      check digests, signature and SBOM as module-host does before installing: signed with
      the key, or keyless by the identity under the Sigstore trusted root (Fulcio CAs, Rekor keys)
  module install <reference> --module-host <host:port> [--tenant <id>]
      install on a module host (gRPC; AION_INTERNAL_TOKEN_SECRET in the environment)
  module quarantine list | show <id> | delete <id> --module-host <host:port> [--tenant <id>]
      the packages installs refused for the tenant (never runnable)
  module list <registry/repository>
      the repository's tags and the digests they name
  key generate <prefix>
      a new ECDSA P-256 key pair: <prefix>.key and <prefix>.pub
  receipt verify <receipt.json> --jwks <file or URL>
      verify a sovereignty receipt offline

options: --json (one JSON document on stdout), --timeout-ms <n> (per registry request), --help
environment: AION_REGISTRY_AUTH=user:password for registries that want credentials (basic or token)
exit codes: 0 ok, 1 refused or invalid, 2 usage, 3 registry or service failure`;

export async function run(argv: string[]): Promise<number> {
  if (argv[0] === 'receipt') {
    if (argv[1] !== 'verify') {
      process.stderr.write(`${HELP}\n`);
      return 2;
    }
    return verifyReceiptCommand(argv.slice(2));
  }
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
        key: { type: 'string' },
        'trusted-root': { type: 'string' },
        'certificate-identity': { type: 'string' },
        'certificate-identity-regexp': { type: 'string' },
        'certificate-oidc-issuer': { type: 'string' },
        'certificate-oidc-issuer-regexp': { type: 'string' },
        out: { type: 'string' },
        component: { type: 'string', multiple: true, default: [] },
        deny: { type: 'string', multiple: true, default: [] },
        'module-host': { type: 'string' },
        tenant: { type: 'string', default: 'default' },
        'timeout-ms': { type: 'string', default: '15000' },
      },
    });
  } catch (err) {
    process.stderr.write(`aionctl: ${(err as Error).message}\n${HELP}\n`);
    return 2;
  }
  const { values, positionals } = parsed;
  const out = new Output(values.json);
  if (values.help || positionals.length === 0) {
    process.stdout.write(`${HELP}\n`);
    return values.help ? 0 : 2;
  }
  const timeoutMs = Number(values['timeout-ms']);
  const options = {
    component: values.component,
    deny: values.deny,
    timeoutMs: Number.isFinite(timeoutMs) && timeoutMs > 0 ? timeoutMs : 15_000,
    ...(values.key ? { key: values.key } : {}),
    ...(values.out ? { out: values.out } : {}),
    ...(values['trusted-root']
      ? {
          keyless: {
            trustedRoot: values['trusted-root'],
            identity: {
              identity: values['certificate-identity'],
              identityRegExp: values['certificate-identity-regexp'],
              issuer: values['certificate-oidc-issuer'],
              issuerRegExp: values['certificate-oidc-issuer-regexp'],
            },
          },
        }
      : {}),
  };
  const identityFlag = Object.keys(values).find((name) => name.startsWith('certificate-'));
  if (identityFlag && !values['trusted-root']) {
    out.error('usage', `--${identityFlag} needs --trusted-root <trusted_root.json>`);
    return 2;
  }
  const [group, command, first, second] = positionals;
  const need = (value: string | undefined, what: string): string => {
    if (!value) throw new CliError(`${group} ${command} needs ${what}\n${HELP}`, 2);
    return value;
  };
  try {
    if (group === 'key' && command === 'generate') return keyGenerate(out, first);
    if (group !== 'module') throw new CliError(`unknown command ${group}\n${HELP}`, 2);
    switch (command) {
      case 'build':
        return await moduleBuild(out, need(first, '<dir>'), options);
      case 'push':
        return await modulePush(out, need(first, '<dir>'), need(second, '<reference>'), options);
      case 'sign':
        return await moduleSign(out, need(first, '<reference>'), options);
      case 'verify':
        return await moduleVerify(out, need(first, '<reference>'), options);
      case 'install':
        return await moduleInstall(out, need(first, '<reference>'), {
          tenant: values.tenant,
          timeoutMs: options.timeoutMs,
          ...(values['module-host'] ? { moduleHost: values['module-host'] } : {}),
        });
      case 'quarantine':
        return await quarantine(out, first, second, {
          tenant: values.tenant,
          timeoutMs: options.timeoutMs,
          ...(values['module-host'] ? { moduleHost: values['module-host'] } : {}),
        });
      case 'list':
        return await moduleList(out, need(first, '<registry/repository>'), options);
      default:
        throw new CliError(`unknown command module ${command ?? ''}\n${HELP}`, 2);
    }
  } catch (err) {
    if (err instanceof CliError) {
      out.error('usage', err.message);
      return err.exitCode;
    }
    if (err instanceof AionError) {
      out.error(err.code, err.message);
      return err.code === 'validation.unprocessable' ? 1 : 3;
    }
    // A reference that does not parse is bad usage; anything else is a failure.
    const message = err instanceof Error ? err.message : String(err);
    out.error('failed', message);
    return /is not a (reference|valid|sha256)/.test(message) ? 2 : 3;
  }
}

if (require.main === module) void run(process.argv.slice(2)).then((code) => process.exit(code));
