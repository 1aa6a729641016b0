/**
 * Kubernetes resource quantities ("0.5", "500m", "256Mi", "1Gi", "512M", "1e9", 2), parsed exactly.
 *
 * The grammar is Kubernetes' own (k8s.io/apimachinery/pkg/api/resource, quantity.go):
 *
 *   quantity        ::= signedNumber suffix
 *   suffix          ::= binarySI | decimalExponent | decimalSI
 *   binarySI        ::= Ki | Mi | Gi | Ti | Pi | Ei                (powers of 1024)
 *   decimalSI       ::= n | u | m | "" | k | M | G | T | P | E     (powers of 1000)
 *   decimalExponent ::= "e" signedNumber | "E" signedNumber         (powers of 10)
 *   signedNumber    ::= number | "+" number | "-" number
 *   number          ::= digits | digits "." digits | digits "." | "." digits
 *
 * Written here rather than taken from @kubernetes/client-node (already a dependency): its
 * `quantityToScalar` goes through floating point for "0.5" and "500m", throws on "1.5Gi", and
 * accepts "-1Gi", while a limit must be exact and a manifest must be told what is wrong.
 * Values are kept as a fraction of BigInts, so "0.1" is exactly a tenth and nothing is rounded.
 */

const QUANTITY =
  /^([+-]?)(\d+(?:\.\d*)?|\.\d+)(?:(Ki|Mi|Gi|Ti|Pi|Ei)|(n|u|m|k|M|G|T|P|E)|[eE]([+-]?\d+))?$/;
const BINARY_POWERS: Record<string, bigint> = { Ki: 1n, Mi: 2n, Gi: 3n, Ti: 4n, Pi: 5n, Ei: 6n };
const DECIMAL_POWERS: Record<string, bigint> = {
  n: -9n,
  u: -6n,
  m: -3n,
  k: 3n,
  M: 6n,
  G: 9n,
  T: 12n,
  P: 15n,
  E: 18n,
};
/** Longer text or larger exponents describe nothing a limit needs and would only cost work. */
const MAX_LENGTH = 64;
const MAX_EXPONENT = 64n;

export type QuantityResult = { ok: true; value: bigint } | { ok: false; reason: string };

/**
 * Reads `input` (a quantity string, or a number as YAML gives `2` or `0.5`) as a whole number of
 * units, where one base unit (a byte, a core) holds `unitsPerBase` units: 1n for bytes, 1000n
 * for millicores (`unitName` names them in the reason). Refuses what is not a quantity, negative
 * values and fractions of a unit.
 */
export function quantityIn(input: unknown, unitsPerBase: bigint, unitName: string): QuantityResult {
  let text: string;
  if (typeof input === 'number') {
    if (!Number.isFinite(input)) return { ok: false, reason: 'is not a finite number' };
    text = String(input);
  } else if (typeof input === 'string') text = input;
  else return { ok: false, reason: 'must be a quantity string or a number' };
  if (text.length > MAX_LENGTH) return { ok: false, reason: 'is too long to be a quantity' };
  const match = QUANTITY.exec(text);
  if (!match) return { ok: false, reason: `"${text}" is not a quantity` };
  const [, sign, number, binary, decimal, exponent] = match;
  const [whole = '', fraction = ''] = number!.split('.');
  let numerator = BigInt(`${whole}${fraction}` || '0');
  let denominator = 10n ** BigInt(fraction.length);
  if (sign === '-' && numerator !== 0n) return { ok: false, reason: 'must not be negative' };
  let power10 = 0n;
  if (decimal) power10 = DECIMAL_POWERS[decimal]!;
  if (exponent !== undefined) power10 = BigInt(exponent);
  if (power10 > MAX_EXPONENT || power10 < -MAX_EXPONENT)
    return { ok: false, reason: 'has an exponent out of any sensible range' };
  if (power10 >= 0n) numerator *= 10n ** power10;
  else denominator *= 10n ** -power10;
  if (binary) numerator *= 1024n ** BINARY_POWERS[binary]!;
  numerator *= unitsPerBase;
  if (numerator % denominator !== 0n)
    return { ok: false, reason: `is not a whole number of ${unitName}` };
  return { ok: true, value: numerator / denominator };
}

/** Bytes as the shortest exact binary quantity ("256Mi", "1536Ki", "1000"), for messages. */
export function formatBytes(bytes: bigint | number): string {
  let value = BigInt(bytes);
  const suffixes = ['', 'Ki', 'Mi', 'Gi', 'Ti', 'Pi', 'Ei'];
  let i = 0;
  while (value !== 0n && value % 1024n === 0n && i < suffixes.length - 1) {
    value /= 1024n;
    i++;
  }
  return `${value}${suffixes[i]}`;
}
