import { formatBytes, quantityIn } from './quantity';

const bytes = (input: unknown) => quantityIn(input, 1n, 'bytes');
const millicores = (input: unknown) => quantityIn(input, 1000n, 'millicores');
const value = (result: ReturnType<typeof quantityIn>) => (result.ok ? result.value : result.reason);

describe('quantityIn', () => {
  it.each([
    ['256Mi', 268_435_456n],
    ['1Gi', 1_073_741_824n],
    ['512M', 512_000_000n],
    ['1.5Gi', 1_610_612_736n],
    ['64Ki', 65_536n],
    ['1k', 1000n],
    ['1e9', 1_000_000_000n],
    ['1E3', 1000n],
    ['+2Mi', 2_097_152n],
    ['0.5Ki', 512n],
    ['.5Ki', 512n],
    ['2.Ki', 2048n],
    ['1000', 1000n],
    [268_435_456, 268_435_456n],
    ['4Gi', 4_294_967_296n],
  ])('reads memory %p as %p bytes, exactly', (input, expected) => {
    expect(value(bytes(input))).toBe(expected);
  });

  it.each([
    ['0.5', 500n],
    ['500m', 500n],
    [2, 2000n],
    [0.5, 500n],
    ['2', 2000n],
    ['0.001', 1n],
    ['1500000u', 1500n],
    ['250000000n', 250n],
    ['64', 64_000n],
  ])('reads cpu %p as %p millicores, exactly', (input, expected) => {
    expect(value(millicores(input))).toBe(expected);
  });

  it.each([
    ['lots', /"lots" is not a quantity/],
    ['abc', /"abc" is not a quantity/],
    ['', /is not a quantity/],
    ['1 Gi', /is not a quantity/],
    ['1gi', /is not a quantity/],
    ['1GiB', /is not a quantity/],
    ['Gi', /is not a quantity/],
    ['1.2.3', /is not a quantity/],
    ['0x10', /is not a quantity/],
    ['1e', /is not a quantity/],
    ['-1Gi', /must not be negative/],
    [-5, /must not be negative/],
    ['1e999999999', /exponent out of any sensible range/],
    ['1'.repeat(80), /too long/],
    [Number.POSITIVE_INFINITY, /not a finite number/],
    [true, /must be a quantity string or a number/],
    [null, /must be a quantity string or a number/],
    ['0.5', /not a whole number of bytes/],
    ['1m', /not a whole number of bytes/],
  ])('refuses memory %p', (input, reason) => {
    const result = bytes(input);
    expect(result.ok).toBe(false);
    expect(value(result)).toMatch(reason);
  });

  it('refuses cpu finer than a millicore', () => {
    expect(value(millicores('0.0001'))).toMatch(/not a whole number of millicores/);
    expect(value(millicores('1n'))).toMatch(/not a whole number of millicores/);
  });

  it('treats -0 as zero, not as a negative quantity', () => {
    expect(value(bytes('-0'))).toBe(0n);
  });
});

describe('formatBytes', () => {
  it('names bytes in the largest exact binary unit', () => {
    expect(formatBytes(268_435_456)).toBe('256Mi');
    expect(formatBytes(4n * 1024n ** 3n)).toBe('4Gi');
    expect(formatBytes(1536 * 1024)).toBe('1536Ki');
    expect(formatBytes(1000)).toBe('1000');
    expect(formatBytes(0)).toBe('0');
  });
});
