import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ISO_3166_1 } from './iso3166';
import { JurisdictionRegistry } from './registry';

const registry = new JurisdictionRegistry();

describe('JurisdictionRegistry', () => {
  it('knows all 249 ISO 3166-1 countries and the default regions', () => {
    expect(Object.keys(ISO_3166_1)).toHaveLength(249);
    expect(registry.isKnown('de')).toBe(true);
    expect(registry.isKnown('EU')).toBe(true);
    expect(registry.countriesOf('EU').size).toBe(27);
    expect(registry.countriesOf('EEA').has('NO')).toBe(true);
  });

  it('refuses unknown codes, naming the code', () => {
    expect(() => registry.normalize('XX')).toThrow(/unknown jurisdiction "XX"/);
    expect(() => registry.normalize('')).toThrow(/unknown jurisdiction/);
    expect(registry.normalize(' fr ')).toBe('FR');
  });

  it('decides coverage by country sets', () => {
    expect(registry.covers(['EU'], 'DE')).toBe(true);
    expect(registry.covers(['EU'], 'US')).toBe(false);
    expect(registry.covers(['EEA'], 'EU')).toBe(true);
    expect(registry.covers(['EU'], 'EEA')).toBe(false);
    expect(registry.covers(['DE', 'FR'], 'DE')).toBe(true);
    expect(registry.overlaps('DACH', 'EU')).toBe(true);
    expect(registry.overlaps('GCC', 'EU')).toBe(false);
  });

  it('lets operators add and override regions, and checks their members', () => {
    const custom = new JurisdictionRegistry({
      regions: { BENELUX: ['BE', 'NL', 'LU'], EU: ['DE'] },
    });
    expect(custom.covers(['BENELUX'], 'NL')).toBe(true);
    expect(custom.countriesOf('EU')).toEqual(new Set(['DE']));
    expect(() => new JurisdictionRegistry({ regions: { BAD: ['ZZ'] } })).toThrow(
      /unknown countries: ZZ/,
    );
    expect(() => new JurisdictionRegistry({ regions: { NA: ['US'] } })).toThrow(
      /already a country code/,
    );
  });
});

describe('JurisdictionRegistry.fromFile', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'aion-regions-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const write = (name: string, text: string) => {
    const file = path.join(dir, name);
    writeFileSync(file, text);
    return file;
  };

  it('adds operator regions and replaces built-ins of the same name', () => {
    const registry = JurisdictionRegistry.fromFile(
      write('ok.yaml', 'BENELUX: [BE, NL, LU]\nDACH: [DE, AT, CH, LI]\n'),
    );
    expect([...registry.countriesOf('BENELUX')].sort()).toEqual(['BE', 'LU', 'NL']);
    expect(registry.countriesOf('DACH').has('LI')).toBe(true);
    expect(registry.isKnown('EU')).toBe(true);
    expect(registry.normalize('benelux')).toBe('BENELUX');
  });

  it('refuses files that are not a map of regions to known countries', () => {
    expect(() => JurisdictionRegistry.fromFile(write('list.yaml', '- BE\n- NL\n'))).toThrow(
      /expected a map of region code/,
    );
    expect(() => JurisdictionRegistry.fromFile(write('bad.yaml', 'BENELUX: [BE, XX]\n'))).toThrow(
      /unknown countries: XX/,
    );
    expect(() => JurisdictionRegistry.fromFile(write('clash.yaml', 'DE: [DE]\n'))).toThrow(
      /already a country code/,
    );
    expect(() => JurisdictionRegistry.fromFile(path.join(dir, 'missing.yaml'))).toThrow(
      /cannot read the regions file/,
    );
  });
});
