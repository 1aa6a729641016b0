import { formatReference, parseReference } from './oci';
import { buildSbom, deniedComponents, sbomFileMismatches } from './sbom';

test('references: tags, digests, loopback over HTTP, others over HTTPS', () => {
  expect(parseReference('127.0.0.1:5000/acme/pkg:1.0.0')).toEqual({
    registry: 'http://127.0.0.1:5000',
    repository: 'acme/pkg',
    reference: '1.0.0',
  });
  const digest = `sha256:${'a'.repeat(64)}`;
  expect(parseReference(`ghcr.io/acme/pkg@${digest}`)).toEqual({
    registry: 'https://ghcr.io',
    repository: 'acme/pkg',
    reference: digest,
  });
  expect(parseReference('oci://localhost/pkg').reference).toBe('latest');
  expect(formatReference(parseReference('localhost:5000/a/b:t'), digest)).toBe(
    `localhost:5000/a/b@${digest}`,
  );
  for (const bad of ['pkg', 'host/UPPER', 'host/p@sha256:xyz', 'host/p:bad tag'])
    expect(() => parseReference(bad)).toThrow();
});

test('SBOM deny rules by purl prefix, name, or name@version', () => {
  const sbom = buildSbom('p', '1.0.0', new Map(), [
    { type: 'library', name: 'openssl', version: '1.0.1' },
    { type: 'library', name: 'event-stream', purl: 'pkg:npm/event-stream@3.3.6' },
  ]);
  expect(deniedComponents(sbom, ['openssl@1.0.2'])).toEqual([]);
  expect(deniedComponents(sbom, ['openssl@1.0.1'])).toHaveLength(1);
  expect(deniedComponents(sbom, ['openssl'])).toHaveLength(1);
  expect(deniedComponents(sbom, ['pkg:npm/event-stream'])).toEqual([
    'pkg:npm/event-stream@3.3.6 (denied by pkg:npm/event-stream)',
  ]);
});

test('SBOM files must be exactly the package files', () => {
  const files = new Map([['a.txt', new TextEncoder().encode('a')]]);
  const sbom = buildSbom('p', '1.0.0', files);
  expect(sbomFileMismatches(sbom, files)).toEqual([]);
  expect(sbomFileMismatches(sbom, new Map([['a.txt', new TextEncoder().encode('b')]]))).toEqual([
    "a.txt differs from the SBOM's hash",
  ]);
  expect(sbomFileMismatches(sbom, new Map([...files, ['extra', new Uint8Array()]]))).toEqual([
    'extra is not in the SBOM',
  ]);
});
