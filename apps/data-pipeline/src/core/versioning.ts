// Content-addressed dataset versions: a version's address is the sha256 of its manifest, which
// lists every file with its own sha256, so equal content gets the same address wherever it is made.
import { createHash } from 'node:crypto';

export interface ManifestFile {
  path: string;
  size: number;
  sha256: string;
  /** DVC addresses files by md5; kept so a .dvc pointer can be exported without reading them again. */
  md5: string;
}

export interface Manifest {
  format: 'parquet' | 'csv' | 'jsonl';
  rowCount: number;
  files: ManifestFile[];
}

/** Keys sorted at every level, so the same manifest always serialises to the same bytes. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object')
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  return JSON.stringify(value);
}

export function manifestSha256(manifest: Manifest): string {
  const files = [...manifest.files].sort((a, b) => a.path.localeCompare(b.path));
  return createHash('sha256')
    .update(canonicalJson({ ...manifest, files }))
    .digest('hex');
}

/** The version's objects live under its address: immutable by construction. */
export const versionPrefix = (tenantId: string, dataset: string, sha: string) =>
  `datasets/${tenantId}/${dataset}/${sha}`;

/**
 * A `.dvc` pointer (DVC's YAML) to a version's data file, for teams that track data with DVC:
 * `dvc pull` with a remote on the same storage finds the file by its md5.
 */
export function dvcPointer(manifest: Manifest, outName: string): string {
  // The data file comes first; side files such as fitted parameters sit in the version's directory.
  const [file] = manifest.files;
  if (!file) throw new Error('a .dvc pointer needs a data file');
  return [
    'outs:',
    `- md5: ${file.md5}`,
    `  size: ${file.size}`,
    '  hash: md5',
    `  path: ${outName}`,
    '',
  ].join('\n');
}
