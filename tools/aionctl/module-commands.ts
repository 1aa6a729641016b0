import { readdirSync, readFileSync, lstatSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import {
  attachSbom,
  attachSignature,
  buildSbom,
  formatReference,
  generateSigningKey,
  keyId,
  keylessTrust,
  MEDIA_TYPES,
  packLayer,
  parseReference,
  pullVerified,
  pushPackage,
  RegistryClient,
  type IdentityRule,
  type KeylessTrust,
  type SbomComponent,
} from '@aion/supply-chain';
import { CliError, type Output } from './output';

/** AION_REGISTRY_AUTH (user:password) for registries that want credentials. */
function registryClient(options: { timeoutMs: number }): RegistryClient {
  const basicAuth = process.env.AION_REGISTRY_AUTH;
  return new RegistryClient({ timeoutMs: options.timeoutMs, ...(basicAuth ? { basicAuth } : {}) });
}

/** A package directory's regular files (links refused, as module-host refuses them). */
function packageFiles(dir: string, base = dir): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    const stat = lstatSync(full);
    if (stat.isSymbolicLink())
      throw new CliError(`${full} is a symbolic link; packages may not hold links`);
    if (stat.isDirectory()) return packageFiles(full, base);
    return stat.isFile() ? [path.relative(base, full).split(path.sep).join('/')] : [];
  });
}

interface Built {
  name: string;
  version: string;
  manifest: unknown;
  files: Map<string, Uint8Array>;
  layer: Uint8Array;
}

/** Reads and packs a package directory: aion.yaml names it, every file goes in the layer. */
async function build(dir: string): Promise<Built> {
  const manifestFile = ['aion.yaml', 'aion.yml']
    .map((f) => path.join(dir, f))
    .find((f) => {
      try {
        return lstatSync(f).isFile();
      } catch {
        return false;
      }
    });
  if (!manifestFile) throw new CliError(`${dir} has no aion.yaml at its root`);
  let manifest: { metadata?: { name?: unknown; version?: unknown } };
  try {
    manifest = parseYaml(readFileSync(manifestFile, 'utf8')) as typeof manifest;
  } catch (err) {
    throw new CliError(`aion.yaml is not YAML: ${(err as Error).message}`);
  }
  const name = manifest?.metadata?.name;
  const version = manifest?.metadata?.version;
  if (typeof name !== 'string' || typeof version !== 'string')
    throw new CliError('aion.yaml has no metadata.name and metadata.version');
  const names = packageFiles(dir);
  const files = new Map(names.map((f) => [f, new Uint8Array(readFileSync(path.join(dir, f)))]));
  return { name, version, manifest, files, layer: await packLayer(dir, names) };
}

function components(values: string[]): SbomComponent[] {
  return values.map((value) => {
    const at = value.lastIndexOf('@');
    if (value.startsWith('pkg:'))
      return { type: 'library', name: value.slice(4).split('@')[0]!, purl: value };
    return at > 0
      ? { type: 'library', name: value.slice(0, at), version: value.slice(at + 1) }
      : { type: 'library', name: value };
  });
}

export interface ModuleOptions {
  key?: string;
  /** Keyless verification: a sigstore trusted_root.json and the one identity to accept. */
  keyless?: { trustedRoot: string; identity: IdentityRule };
  out?: string;
  component: string[];
  deny: string[];
  timeoutMs: number;
}

export async function moduleBuild(
  out: Output,
  dir: string,
  options: ModuleOptions,
): Promise<number> {
  const built = await build(dir);
  const sbom = buildSbom(built.name, built.version, built.files, components(options.component));
  if (options.out) {
    writeFileSync(`${options.out}.tar.gz`, built.layer);
    writeFileSync(`${options.out}.cdx.json`, JSON.stringify(sbom, null, 2));
  }
  out.result(
    {
      name: built.name,
      version: built.version,
      files: built.files.size,
      layer_bytes: built.layer.byteLength,
      sbom_components: sbom.components.length,
      ...(options.out ? { written: [`${options.out}.tar.gz`, `${options.out}.cdx.json`] } : {}),
    },
    `${built.name}@${built.version}: ${built.files.size} files, ${built.layer.byteLength} bytes packed, SBOM of ${sbom.components.length} components`,
  );
  return 0;
}

export async function modulePush(
  out: Output,
  dir: string,
  reference: string,
  options: ModuleOptions,
): Promise<number> {
  const ref = parseReference(reference);
  const client = registryClient(options);
  const built = await build(dir);
  const pushed = await pushPackage(
    client,
    ref,
    { name: built.name, version: built.version, manifest: built.manifest },
    built.layer,
  );
  const sbom = await attachSbom(
    client,
    ref,
    pushed.descriptor,
    buildSbom(built.name, built.version, built.files, components(options.component)),
  );
  out.result(
    {
      reference: formatReference(ref, pushed.digest),
      digest: pushed.digest,
      sbom_digest: sbom.digest,
    },
    `pushed ${formatReference(ref, pushed.digest)} (SBOM ${sbom.digest})`,
  );
  return 0;
}

function readKey(file: string | undefined, kind: 'private' | 'public'): string {
  if (!file) throw new CliError(`--key <${kind} key PEM file> is required`, 2);
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new CliError(`cannot read ${file}: ${(err as Error).message}`, 2);
  }
}

/** Signs the package's manifest and each SBOM attached to it. */
export async function moduleSign(
  out: Output,
  reference: string,
  options: ModuleOptions,
): Promise<number> {
  const privateKey = readKey(options.key, 'private');
  const ref = parseReference(reference);
  const client = registryClient(options);
  const { digest } = await client.fetchManifest(ref, ref.reference);
  const signed = [digest];
  await attachSignature(client, ref, digest, privateKey);
  for (const sbom of (await client.referrers(ref, digest)).filter(
    (d) => d.artifactType === MEDIA_TYPES.cyclonedx,
  )) {
    await attachSignature(client, ref, sbom.digest, privateKey);
    signed.push(sbom.digest);
  }
  out.result(
    { reference: formatReference(ref, digest), signed },
    `signed ${signed.length} manifests of ${formatReference(ref, digest)}`,
  );
  return 0;
}

/** Verifies as module-host installs: exit 0 when it would install, 1 when it would refuse. */
export async function moduleVerify(
  out: Output,
  reference: string,
  options: ModuleOptions,
): Promise<number> {
  if (options.keyless && identityFlagsMissing(options.keyless.identity))
    throw new CliError(
      '--trusted-root needs --certificate-identity[-regexp] and --certificate-oidc-issuer[-regexp]',
      2,
    );
  if (!options.key && !options.keyless)
    throw new CliError('--key <public.pem> or --trusted-root <trusted_root.json> is required', 2);
  const publicKey = options.key ? readKey(options.key, 'public') : undefined;
  const keyless = options.keyless ? readKeyless(options.keyless) : undefined;
  const ref = parseReference(reference);
  const client = registryClient(options);
  try {
    const verified = await pullVerified(client, ref, {
      keys: new Map(publicKey ? [[keyId(publicKey), publicKey]] : []),
      ...(keyless ? { keyless } : {}),
      denyComponents: options.deny,
    });
    out.result(
      {
        valid: true,
        digest: verified.digest,
        name: verified.config.name,
        version: verified.config.version,
        signed_by: verified.signedBy,
        sbom_components: verified.sbom.components.length,
      },
      `VALID: ${verified.config.name}@${verified.config.version} ${verified.digest}, signed by ${verified.signedBy}`,
    );
    return 0;
  } catch (err) {
    const reason = (err as { reason?: unknown }).reason;
    if (typeof reason !== 'string') throw err;
    out.result(
      { valid: false, reason, message: (err as Error).message },
      `INVALID (${reason}): ${(err as Error).message}`,
    );
    return 1;
  }
}

const identityFlagsMissing = (rule: IdentityRule) =>
  !(rule.identity ?? rule.identityRegExp) || !(rule.issuer ?? rule.issuerRegExp);

/** The trusted root and identity flags as keyless trust; bad usage when they are not one. */
function readKeyless(options: NonNullable<ModuleOptions['keyless']>): KeylessTrust {
  let root: unknown;
  try {
    root = JSON.parse(readFileSync(options.trustedRoot, 'utf8'));
  } catch (err) {
    throw new CliError(`cannot read ${options.trustedRoot}: ${(err as Error).message}`, 2);
  }
  const rule = Object.fromEntries(
    Object.entries(options.identity).filter(([, v]) => v !== undefined),
  ) as IdentityRule;
  try {
    return keylessTrust(root, [rule]);
  } catch (err) {
    throw new CliError(`${options.trustedRoot}: ${(err as Error).message}`, 2);
  }
}

/** The repository's tags, each with the digest it names. */
export async function moduleList(
  out: Output,
  repository: string,
  options: ModuleOptions,
): Promise<number> {
  const ref = parseReference(repository);
  const client = registryClient(options);
  const tags = (await client.tags(ref)).filter((t) => !/^sha256-[a-f0-9]{64}$/.test(t)).sort();
  const items = [];
  for (const tag of tags) {
    const { digest } = await client.fetchManifestBytes(ref, tag);
    items.push({ tag, digest });
  }
  out.result(
    { repository: formatReference(ref), tags: items },
    items.map((i) => `${i.tag}\t${i.digest}`).join('\n') || '(no tags)',
  );
  return 0;
}

export function keyGenerate(out: Output, prefix: string | undefined): number {
  if (!prefix) throw new CliError('usage: aionctl key generate <file prefix>', 2);
  const pair = generateSigningKey();
  writeFileSync(`${prefix}.key`, pair.privateKeyPem, { mode: 0o600 });
  writeFileSync(`${prefix}.pub`, pair.publicKeyPem);
  out.result(
    { private_key: `${prefix}.key`, public_key: `${prefix}.pub`, key_id: keyId(pair.publicKeyPem) },
    `wrote ${prefix}.key and ${prefix}.pub (key id ${keyId(pair.publicKeyPem)})`,
  );
  return 0;
}
