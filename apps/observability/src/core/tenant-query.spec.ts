import { AionError } from '@aion/errors';
import { scopeToTenant } from './tenant-query';

const T = 'tenant_id="acme"';

describe('scopeToTenant', () => {
  it.each([
    ['up', `up{${T}}`],
    ['up{job="a"}', `up{${T},job="a"}`],
    ['up{}', `up{${T}}`],
    ['{__name__=~".+"}', `{${T},__name__=~".+"}`],
    ['rate(x[5m] offset 1m)', `rate(x{${T}}[5m] offset 1m)`],
    ['max_over_time(rate(x[1m])[10m:1m])', `max_over_time(rate(x{${T}}[1m])[10m:1m])`],
    ['sum(x{a="}"}) by (a) / ignoring(a) y', `sum(x{${T},a="}"}) by (a) / ignoring(a) y{${T}}`],
    ['up @ 100', `up{${T}} @ 100`],
    ['vector(1)', 'vector(1)'],
  ])('%s -> %s', (query, scoped) => expect(scopeToTenant(query, 'acme')).toBe(scoped));

  it('narrows a query that names another tenant to nothing, never widens it', () => {
    expect(scopeToTenant('x{tenant_id="other"}', 'acme')).toBe(`x{${T},tenant_id="other"}`);
    expect(scopeToTenant('x{tenant_id=~".*"}', 'acme')).toBe(`x{${T},tenant_id=~".*"}`);
  });

  it('quotes the tenant id', () => {
    expect(scopeToTenant('up', 'a"b')).toBe('up{tenant_id="a\\"b"}');
  });

  it('refuses what does not parse', () => {
    expect(() => scopeToTenant('up{', 'acme')).toThrow(AionError);
    expect(() => scopeToTenant('sum(up', 'acme')).toThrow('the query is not PromQL');
  });
});
