import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { AionError } from '@aion/errors';
import { ISO_3166_1 } from './iso3166';
import { DEFAULT_REGIONS } from './regions';

const REGION_CODE = /^[A-Z][A-Z0-9_]{1,31}$/;
const EMPTY: ReadonlySet<string> = new Set();

/**
 * Jurisdictions are ISO 3166-1 alpha-2 countries or named regions (sets of countries). Region
 * codes may not reuse a country code, so every code means one thing.
 */
export class JurisdictionRegistry {
  private readonly regions: Map<string, ReadonlySet<string>>;
  /** Known codes (as written, upper case) to their countries, filled on first use. */
  private readonly resolved = new Map<string, ReadonlySet<string>>();

  constructor(
    options: { regions?: Record<string, readonly string[]>; replaceDefaults?: boolean } = {},
  ) {
    const merged = {
      ...(options.replaceDefaults ? {} : DEFAULT_REGIONS),
      ...(options.regions ?? {}),
    };
    this.regions = new Map();
    for (const [code, members] of Object.entries(merged)) {
      const region = code.toUpperCase();
      if (!REGION_CODE.test(region)) throw new Error(`invalid region code ${code}`);
      if (Object.hasOwn(ISO_3166_1, region))
        throw new Error(`region code ${region} is already a country code`);
      const unknown = members.filter((m) => !Object.hasOwn(ISO_3166_1, m.toUpperCase()));
      if (unknown.length)
        throw new Error(`region ${region} names unknown countries: ${unknown.join(', ')}`);
      this.regions.set(region, new Set(members.map((m) => m.toUpperCase())));
    }
  }

  /**
   * The built-in regions plus an operator's file (`AION_REGIONS_FILE`: region code -> country
   * codes, JSON or YAML); a file region with a built-in's name replaces it. Invalid files are
   * refused at startup naming the problem.
   */
  static fromFile(file: string | undefined): JurisdictionRegistry {
    if (!file) return new JurisdictionRegistry();
    let parsed: unknown;
    try {
      parsed = parseYaml(readFileSync(file, 'utf8'));
    } catch (err) {
      throw new Error(`cannot read the regions file ${file}: ${(err as Error).message}`);
    }
    const valid =
      typeof parsed === 'object' &&
      parsed !== null &&
      !Array.isArray(parsed) &&
      Object.values(parsed).every(
        (members) =>
          Array.isArray(members) &&
          members.length > 0 &&
          members.every((m) => typeof m === 'string'),
      );
    if (!valid)
      throw new Error(
        `regions file ${file} is invalid: expected a map of region code -> non-empty list of country codes`,
      );
    try {
      return new JurisdictionRegistry({ regions: parsed as Record<string, string[]> });
    } catch (err) {
      throw new Error(`regions file ${file} is invalid: ${(err as Error).message}`);
    }
  }

  isRegion(code: string): boolean {
    return this.regions.has(code.toUpperCase());
  }

  /** Every code `isKnown` accepts, upper-case: ISO 3166-1 alpha-2 countries and region codes. */
  knownCodes(): string[] {
    return [...Object.keys(ISO_3166_1), ...this.regions.keys()].sort();
  }

  isKnown(code: string): boolean {
    const upper = code.toUpperCase();
    return this.regions.has(upper) || Object.hasOwn(ISO_3166_1, upper);
  }

  /** Upper-cases and checks a code; unknown codes are refused naming the code. */
  normalize(code: string, field = 'jurisdiction'): string {
    const upper = String(code ?? '')
      .trim()
      .toUpperCase();
    if (!this.isKnown(upper)) {
      throw new AionError(
        'validation.invalid_argument',
        `unknown jurisdiction ${JSON.stringify(code)}: use an ISO 3166-1 alpha-2 code or a region code (${[...this.regions.keys()].join(', ')})`,
        {
          details: [
            {
              field,
              reason: 'unknown_jurisdiction',
              message: `${JSON.stringify(code)} is not a known jurisdiction`,
            },
          ],
        },
      );
    }
    return upper;
  }

  /** The countries a code stands for: itself, or a region's members. */
  countriesOf(code: string): ReadonlySet<string> {
    // Routing asks this for every engine of every task: answer known codes from a cache.
    const cached = this.resolved.get(code);
    if (cached) return cached;
    const upper = code.toUpperCase();
    const countries =
      this.regions.get(upper) ?? (Object.hasOwn(ISO_3166_1, upper) ? new Set([upper]) : EMPTY);
    if (countries !== EMPTY && code === upper) this.resolved.set(code, countries);
    return countries;
  }

  /** The countries a set of codes stands for together (build once, test many targets). */
  union(codes: readonly string[]): ReadonlySet<string> {
    if (codes.length === 1) return this.countriesOf(codes[0]!);
    const union = new Set<string>();
    for (const code of codes) for (const c of this.countriesOf(code)) union.add(c);
    return union;
  }

  /** True when every country of `target` lies within the union of `allowed`. */
  covers(allowed: readonly string[], target: string): boolean {
    return this.within(this.union(allowed), target);
  }

  /** `covers` against a prebuilt union. */
  within(union: ReadonlySet<string>, target: string): boolean {
    const countries = this.countriesOf(target);
    if (countries.size === 0) return false;
    for (const c of countries) if (!union.has(c)) return false;
    return true;
  }

  /** True when the two codes share at least one country. */
  overlaps(a: string, b: string): boolean {
    const left = this.countriesOf(a);
    for (const c of this.countriesOf(b)) if (left.has(c)) return true;
    return false;
  }

  regionCodes(): string[] {
    return [...this.regions.keys()];
  }

  countryName(code: string): string | undefined {
    return ISO_3166_1[code.toUpperCase()];
  }
}
