import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';

/**
 * Debian's docker-registry on a loopback port, storing in `dir`; `tokenAuth` turns on the
 * distribution token flow (tokens signed by the certificate's key, from `realm`).
 */
export async function startRegistry(
  dir: string,
  port: number,
  tokenAuth?: { realm: string; service: string; issuer: string; certificate: string },
): Promise<{ address: string; stop(): Promise<void> }> {
  const config = path.join(dir, 'config.yml');
  writeFileSync(
    config,
    [
      'version: 0.1',
      'log: { level: warn, accesslog: { disabled: true } }',
      `storage: { filesystem: { rootdirectory: ${JSON.stringify(path.join(dir, 'data'))} } }`,
      `http: { addr: "127.0.0.1:${port}" }`,
      ...(tokenAuth
        ? [
            `auth: { token: { realm: ${JSON.stringify(tokenAuth.realm)}, service: ${JSON.stringify(tokenAuth.service)}, issuer: ${JSON.stringify(tokenAuth.issuer)}, rootcertbundle: ${JSON.stringify(tokenAuth.certificate)} } }`,
          ]
        : []),
      '',
    ].join('\n'),
  );
  // stdout unread would fill its pipe and stall the registry after enough requests: ignored.
  const child = spawn('docker-registry', ['serve', config], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let output = '';
  child.stderr.on('data', (c: Buffer) => (output = (output + c.toString()).slice(-5000)));
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const address = `127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    const status = await fetch(`http://${address}/v2/`).then(
      (r) => r.status,
      () => 0,
    );
    if (status === 200 || (tokenAuth && status === 401)) break;
    if (child.exitCode !== null || Date.now() > deadline)
      throw new Error(`docker-registry did not start: ${output}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    address,
    stop: async () => {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
    },
  };
}
