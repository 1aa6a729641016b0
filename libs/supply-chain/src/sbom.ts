import { createHash } from 'node:crypto';

/**
 * CycloneDX 1.5 SBOMs of agent packages: the package as the metadata component, each file it
 * ships (with its SHA-256) and any third-party component the author declares as components.
 */
export interface SbomComponent {
  type: string;
  name: string;
  version?: string;
  purl?: string;
  hashes?: { alg: string; content: string }[];
}

export interface CycloneDxSbom {
  bomFormat: 'CycloneDX';
  specVersion: string;
  version: number;
  metadata: { component: SbomComponent; tools?: unknown };
  components: SbomComponent[];
}

export function packagePurl(name: string, version: string): string {
  return `pkg:generic/aion/${name}@${version}`;
}

export function buildSbom(
  name: string,
  version: string,
  files: ReadonlyMap<string, Uint8Array>,
  declared: SbomComponent[] = [],
): CycloneDxSbom {
  return {
    bomFormat: 'CycloneDX',
    specVersion: '1.5',
    version: 1,
    metadata: {
      component: { type: 'application', name, version, purl: packagePurl(name, version) },
    },
    components: [
      ...[...files.keys()].sort().map((path) => ({
        type: 'file',
        name: path,
        hashes: [
          { alg: 'SHA-256', content: createHash('sha256').update(files.get(path)!).digest('hex') },
        ],
      })),
      ...declared,
    ],
  };
}

/** Parses an SBOM; undefined when it is not CycloneDX JSON with a metadata component. */
export function parseSbom(bytes: Uint8Array): CycloneDxSbom | undefined {
  try {
    const doc = JSON.parse(Buffer.from(bytes).toString('utf8')) as CycloneDxSbom;
    if (
      doc?.bomFormat !== 'CycloneDX' ||
      typeof doc.metadata?.component?.name !== 'string' ||
      !Array.isArray(doc.components ?? [])
    )
      return undefined;
    return { ...doc, components: doc.components ?? [] };
  } catch {
    return undefined;
  }
}

/**
 * A deny rule: a purl prefix (`pkg:npm/event-stream`), or a name with an optional exact version
 * (`openssl`, `openssl@1.0.1`).
 */
export function deniedComponents(sbom: CycloneDxSbom, deny: readonly string[]): string[] {
  const hits: string[] = [];
  for (const c of sbom.components) {
    const label = c.purl ?? (c.version ? `${c.name}@${c.version}` : c.name);
    for (const rule of deny) {
      const match = rule.startsWith('pkg:')
        ? (c.purl ?? '').startsWith(rule)
        : rule.includes('@')
          ? `${c.name}@${c.version ?? ''}` === rule
          : c.name === rule;
      if (match) {
        hits.push(`${label} (denied by ${rule})`);
        break;
      }
    }
  }
  return hits;
}

/** Files the SBOM names with a hash that the package does not have, or has with other bytes. */
export function sbomFileMismatches(
  sbom: CycloneDxSbom,
  files: ReadonlyMap<string, Uint8Array>,
): string[] {
  const problems: string[] = [];
  const named = new Set<string>();
  for (const c of sbom.components) {
    if (c.type !== 'file') continue;
    named.add(c.name);
    const want = c.hashes?.find((h) => h.alg === 'SHA-256')?.content;
    const file = files.get(c.name);
    if (!file) problems.push(`${c.name} is in the SBOM, not in the package`);
    else if (want && createHash('sha256').update(file).digest('hex') !== want)
      problems.push(`${c.name} differs from the SBOM's hash`);
  }
  for (const path of files.keys())
    if (!named.has(path)) problems.push(`${path} is not in the SBOM`);
  return problems;
}
