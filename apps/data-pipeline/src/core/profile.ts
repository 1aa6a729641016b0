// A dataset profile and the rules that read meaning into a column (semantic type, personal data).

export interface ColumnProfile {
  name: string;
  /** The engine's type name (BIGINT, DOUBLE, VARCHAR, DATE, ...). */
  type: string;
  nullCount: number;
  distinctCount: number;
  min: string | number | null;
  max: string | number | null;
  mean: number | null;
  stddev: number | null;
  /** p25, p50, p75 for numeric columns. */
  quantiles: Record<string, number> | null;
  topValues: { value: string; count: number }[];
  /** Equal-width bins over [min, max] for numeric columns. */
  histogram: { lower: number; upper: number; count: number }[] | null;
  semanticType: SemanticType | '';
  personalData: boolean;
}

export interface DatasetProfile {
  rowCount: number;
  duplicateRows: number;
  columns: ColumnProfile[];
}

export type SemanticType = 'email' | 'phone' | 'iban' | 'date' | 'url' | 'ipv4';

/**
 * Regular expressions (RE2 syntax, which DuckDB runs) a column's text values are matched against;
 * a column takes the first type at least SEMANTIC_SHARE of its non-null values match.
 */
export const SEMANTIC_PATTERNS: [SemanticType, string][] = [
  ['email', '^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\\.[A-Za-z]{2,}$'],
  ['iban', '^[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}$'],
  ['url', '^https?://[^\\s]+$'],
  ['ipv4', '^([0-9]{1,3}\\.){3}[0-9]{1,3}$'],
  ['date', '^[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9]{2}:[0-9]{2}(:[0-9]{2})?)?'],
  ['phone', '^\\+?[0-9][0-9 ()./-]{6,18}[0-9]$'],
];
export const SEMANTIC_SHARE = 0.9;

/** Semantic types that are personal data wherever they occur. */
const PERSONAL_TYPES = new Set<SemanticType>(['email', 'phone', 'iban', 'ipv4']);
/** Column names that say personal data even when the values do not (names, addresses, ids). */
const PERSONAL_NAMES =
  /(^|_)(first_?name|last_?name|full_?name|surname|name|address|street|birth|dob|ssn|passport|tax_?id|national_?id|email|phone|mobile|iban)($|_)/i;

export function isPersonalData(column: string, semantic: SemanticType | ''): boolean {
  return (semantic !== '' && PERSONAL_TYPES.has(semantic)) || PERSONAL_NAMES.test(column);
}

/** The first semantic type whose share of matches reaches the threshold. */
export function semanticTypeOf(
  nonNull: number,
  matches: Partial<Record<SemanticType, number>>,
): SemanticType | '' {
  if (nonNull === 0) return '';
  for (const [type] of SEMANTIC_PATTERNS)
    if ((matches[type] ?? 0) / nonNull >= SEMANTIC_SHARE) return type;
  return '';
}
