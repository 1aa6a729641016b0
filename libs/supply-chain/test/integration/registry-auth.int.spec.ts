import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { importPKCS8, SignJWT } from 'jose';
import { issueSelfSignedCertificate } from '@aion/testing/certificates';
import { freePort } from '@aion/testing/infra/processes';
import { startRegistry } from '@aion/testing/registry';
import {
  buildSbom,
  attachSbom,
  attachSignature,
  generateSigningKey,
  keyId,
  parseReference,
  pullVerified,
  pushPackage,
  RegistryClient,
} from '../../src';

// A real docker-registry with token authentication (the scheme Docker Hub, GHCR and Harbor use).
// The token service is a stand-in (a registry's auth server, e.g. Harbor's, does not run here):
// it grants push and pull to ci:secret, pull alone to anyone, as public registries do.

const scratch = mkdtempSync(path.join(os.tmpdir(), 'aion-regauth-'));
const SERVICE = 'aion-test-registry';
const ISSUER = 'aion-test-issuer';
let registry: { address: string; stop(): Promise<void> };
let tokenServer: Server;
const scopesAsked: string[] = [];

beforeAll(async () => {
  const cert = issueSelfSignedCertificate(scratch, 'token');
  const key = await importPKCS8(readFileSync(cert.key, 'utf8'), 'RS256');
  const der = readFileSync(cert.cert, 'utf8')
    .replace(/-----[^-]+-----/g, '')
    .replace(/\s+/g, '');
  tokenServer = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://x');
      const scope = url.searchParams.get('scope') ?? '';
      scopesAsked.push(scope);
      const auth = req.headers.authorization ?? '';
      const user = auth.startsWith('Basic ') ? Buffer.from(auth.slice(6), 'base64').toString() : '';
      if (user && user !== 'ci:secret') {
        res.writeHead(401).end();
        return;
      }
      const [type, name, actions] = scope.split(':');
      const granted = (actions ?? '').split(',').filter((a) => user || a === 'pull');
      const token = await new SignJWT({
        access: type ? [{ type, name, actions: granted }] : [],
      })
        .setProtectedHeader({ alg: 'RS256', x5c: [der] })
        .setIssuer(ISSUER)
        .setSubject(user.split(':')[0] || 'anonymous')
        .setAudience(SERVICE)
        .setIssuedAt()
        .setNotBefore('-10s')
        .setExpirationTime('5m')
        .setJti(randomUUID())
        .sign(key);
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token }));
    })();
  });
  const tokenPort = await freePort();
  await new Promise<void>((resolve) => tokenServer.listen(tokenPort, '127.0.0.1', resolve));
  registry = await startRegistry(scratch, await freePort(), {
    realm: `http://127.0.0.1:${tokenPort}/token`,
    service: SERVICE,
    issuer: ISSUER,
    certificate: cert.cert,
  });
}, 60_000);

afterAll(async () => {
  await registry?.stop();
  tokenServer?.closeAllConnections();
  await new Promise((resolve) => tokenServer?.close(resolve));
  rmSync(scratch, { recursive: true, force: true });
});

test('push with credentials and pull anonymously through the token flow; push without is refused', async () => {
  const ref = parseReference(`${registry.address}/acme/pkg:1.0.0`);
  const signer = generateSigningKey();
  const ci = new RegistryClient({ timeoutMs: 5000, basicAuth: 'ci:secret' });
  const pushed = await pushPackage(
    ci,
    ref,
    { name: 'pkg', version: '1.0.0', manifest: {} },
    new TextEncoder().encode('layer'),
  );
  const sbom = await attachSbom(ci, ref, pushed.descriptor, buildSbom('pkg', '1.0.0', new Map()));
  await attachSignature(ci, ref, pushed.digest, signer.privateKeyPem);
  await attachSignature(ci, ref, sbom.digest, signer.privateKeyPem);
  // The registry names the actions in either order.
  expect(scopesAsked).toContainEqual(
    expect.stringMatching(/^repository:acme\/pkg:(pull,push|push,pull)$/),
  );

  const anonymous = new RegistryClient({ timeoutMs: 5000 });
  const verified = await pullVerified(anonymous, ref, {
    keys: new Map([[keyId(signer.publicKeyPem), signer.publicKeyPem]]),
    denyComponents: [],
  });
  expect(verified.digest).toBe(pushed.digest);

  await expect(
    pushPackage(
      anonymous,
      parseReference(`${registry.address}/acme/other:1`),
      {
        name: 'other',
        version: '1',
        manifest: {},
      },
      new TextEncoder().encode('x'),
    ),
  ).rejects.toMatchObject({ code: 'auth.forbidden' });
  await expect(
    new RegistryClient({ timeoutMs: 5000, basicAuth: 'ci:wrong' }).fetchManifest(ref, '1.0.0'),
  ).rejects.toMatchObject({ code: 'auth.forbidden' });
});
