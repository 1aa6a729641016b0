import path from 'node:path';

/** File formats a source may hold, by extension (a `.tsv` is a CSV delimited by tabs). */
export const FORMATS = {
  '.csv': 'csv',
  '.tsv': 'csv',
  '.jsonl': 'jsonl',
  '.ndjson': 'jsonl',
  '.parquet': 'parquet',
} as const;

export type SourceFormat = (typeof FORMATS)[keyof typeof FORMATS];

export const formatOf = (name: string): SourceFormat | undefined =>
  FORMATS[path.extname(name).toLowerCase() as keyof typeof FORMATS];

/** The CSV options of a file: tabs for `.tsv`, else the source's delimiter, else sniffed. */
export function csvOptions(name: string, delimiter: unknown): { delimiter?: string } | undefined {
  if (path.extname(name).toLowerCase() === '.tsv') return { delimiter: '\t' };
  return typeof delimiter === 'string' ? { delimiter } : undefined;
}
