/**
 * The data-pipeline benchmark's input: a deterministic 20-column CSV of mixed types (integers,
 * doubles, text, emails, phone numbers, dates, timestamps, categories, booleans, quoted text with
 * commas, nulls), generated once per row count and cached, and the 20-expectation GX suite run
 * over it.
 */
import { once } from 'node:events';
import { createWriteStream, existsSync } from 'node:fs';
import { mkdir, rename, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';

/** Bump when the generator changes, so a cached file of the old shape is not reused. */
const GENERATOR_VERSION = 1;

export const cacheDir = () =>
  process.env['AION_BENCH_CACHE'] ?? path.join(homedir(), '.cache', 'aion-bench');

/** mulberry32: a small seeded PRNG, so every run (and machine) gets the same bytes. */
function prng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const FIRST = [
  'anna',
  'ben',
  'chloe',
  'david',
  'emma',
  'felix',
  'greta',
  'hugo',
  'ines',
  'jonas',
  'karla',
  'luca',
  'mia',
  'noah',
  'olga',
  'paul',
];
const LAST = [
  'schmidt',
  'martin',
  'rossi',
  'garcia',
  'novak',
  'kowalski',
  'jensen',
  'dubois',
  'silva',
  'weber',
  'muller',
  'bianchi',
];
const DOMAINS = ['example.com', 'mail.test', 'corp.example', 'post.example.org'];
const COUNTRIES = [
  'DE',
  'FR',
  'IT',
  'ES',
  'NL',
  'PL',
  'SE',
  'AT',
  'BE',
  'PT',
  'IE',
  'DK',
  'FI',
  'CZ',
  'GR',
  'HU',
  'RO',
  'GB',
  'CH',
  'NO',
];
const STATUSES = ['active', 'pending', 'closed', 'suspended', 'trial'];
const CITIES = [
  'Berlin',
  'Paris',
  'Rome',
  'Madrid',
  'Amsterdam',
  'Warsaw',
  'Stockholm',
  'Vienna',
  'Lisbon',
  'Dublin',
  'Prague',
  'Athens',
];
const WORDS = [
  'fast',
  'slow',
  'great',
  'late',
  'broken',
  'fine',
  'delivery',
  'service',
  'price',
  'quality',
  'support',
  'again',
];
const CHANNELS = ['web', 'app', 'store', 'phone'];

export const COLUMNS = [
  'id',
  'customer_id',
  'age',
  'amount',
  'score',
  'quantity',
  'name',
  'email',
  'phone',
  'signup_date',
  'last_login',
  'country',
  'status',
  'product',
  'comment',
  'is_active',
  'zip',
  'discount',
  'city',
  'rating',
] as const;

const pad = (n: number, w: number) => String(n).padStart(w, '0');

/** One row; `i` is its 0-based index. About 150 bytes. */
function row(i: number, r: () => number): string {
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(r() * xs.length)]!;
  const nullable = (share: number, v: () => string) => (r() < share ? '' : v());
  const first = pick(FIRST);
  const last = pick(LAST);
  const day = Math.floor(r() * 3650); // 2015-01-01 + up to ten years
  const date = new Date(Date.UTC(2015, 0, 1) + day * 86_400_000).toISOString().slice(0, 10);
  const login = new Date(Date.UTC(2024, 0, 1) + Math.floor(r() * 31_536_000) * 1000)
    .toISOString()
    .slice(0, 19)
    .replace('T', ' ');
  const comment = nullable(0.3, () => {
    const words = Array.from({ length: 1 + Math.floor(r() * 3) }, () => pick(WORDS));
    return r() < 0.3 ? `"${words.join(', ')}"` : words.join(' ');
  });
  return [
    i + 1,
    1 + Math.floor(r() * 200_000),
    nullable(0.05, () => String(18 + Math.floor(r() * 70))),
    (r() * 1000).toFixed(2),
    nullable(0.1, () => (r() * 100 - 20).toFixed(4)),
    1 + Math.floor(r() * 20),
    `${first} ${last}`,
    nullable(0.02, () => `${first}.${last}${Math.floor(r() * 1000)}@${pick(DOMAINS)}`),
    nullable(0.05, () => `+49 30 ${pad(Math.floor(r() * 1e7), 7)}`),
    date,
    login,
    pick(COUNTRIES),
    nullable(0.03, () => pick(STATUSES)),
    `${pick(CHANNELS)}-${pad(Math.floor(r() * 200), 3)}`,
    comment,
    r() < 0.7 ? 'true' : 'false',
    pad(Math.floor(r() * 100_000), 5),
    nullable(0.6, () => (r() * 0.5).toFixed(2)),
    pick(CITIES),
    nullable(0.08, () => String(1 + Math.floor(r() * 5))),
  ].join(',');
}

/** The CSV of `rows` rows, generated once into the cache (atomically: a broken run leaves no file). */
export async function benchCsv(rows: number): Promise<{ path: string; bytes: number }> {
  const file = path.join(cacheDir(), `pipeline-v${GENERATOR_VERSION}-${rows}.csv`);
  if (!existsSync(file)) {
    await mkdir(cacheDir(), { recursive: true });
    const part = `${file}.${process.pid}.part`;
    const out = createWriteStream(part);
    const r = prng(17);
    out.write(COLUMNS.join(',') + '\n');
    const batch = 20_000;
    for (let start = 0; start < rows; start += batch) {
      const lines: string[] = [];
      for (let i = start; i < Math.min(rows, start + batch); i++) lines.push(row(i, r));
      if (!out.write(lines.join('\n') + '\n')) await once(out, 'drain');
    }
    out.end();
    await once(out, 'finish');
    await rename(part, file);
  }
  return { path: file, bytes: (await stat(file)).size };
}

/** Twenty expectations of the common core types over the benchmark's columns (GX 1.x JSON). */
export function benchSuite(rows: number) {
  const e = (type: string, kwargs: Record<string, unknown>, severity = 'critical') => ({
    type,
    kwargs,
    severity,
  });
  return {
    name: 'pipeline-bench',
    expectations: [
      e('expect_table_row_count_to_be_between', { min_value: rows, max_value: rows }),
      e('expect_table_columns_to_match_ordered_list', { column_list: [...COLUMNS] }),
      e('expect_column_values_to_not_be_null', { column: 'id' }),
      e('expect_column_values_to_be_unique', { column: 'id' }),
      e('expect_column_values_to_not_be_null', { column: 'email', mostly: 0.95 }),
      e('expect_column_values_to_match_regex', {
        column: 'email',
        regex: '^[^@\\s]+@[^@\\s]+\\.[a-z]+$',
      }),
      e('expect_column_values_to_match_regex', {
        column: 'phone',
        regex: '^\\+49 30 [0-9]{7}$',
        mostly: 0.99,
      }),
      e('expect_column_values_to_be_between', { column: 'age', min_value: 18, max_value: 100 }),
      e('expect_column_values_to_be_between', { column: 'amount', min_value: 0, max_value: 1000 }),
      e('expect_column_values_to_be_in_set', { column: 'country', value_set: COUNTRIES }),
      e('expect_column_values_to_be_in_set', { column: 'status', value_set: STATUSES }),
      e('expect_column_values_to_not_be_in_set', { column: 'city', value_set: ['Atlantis'] }),
      e('expect_column_value_lengths_to_be_between', {
        column: 'comment',
        min_value: 4,
        max_value: 40,
      }),
      e('expect_column_values_to_be_in_type_list', {
        column: 'quantity',
        type_list: ['BIGINT', 'INTEGER'],
      }),
      e('expect_column_values_to_be_of_type', { column: 'score', type_: 'DOUBLE' }),
      e('expect_column_mean_to_be_between', { column: 'amount', min_value: 450, max_value: 550 }),
      e('expect_column_median_to_be_between', { column: 'rating', min_value: 2, max_value: 4 }),
      e('expect_column_max_to_be_between', { column: 'discount', max_value: 0.5 }),
      e('expect_compound_columns_to_be_unique', { column_list: ['id', 'customer_id'] }),
      // Fails (customer ids repeat): a warning, so the gate passes with a score of 19/20.
      e('expect_column_values_to_be_unique', { column: 'customer_id', mostly: 0.5 }, 'warning'),
    ],
  };
}
