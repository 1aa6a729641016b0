import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { connect, createServer, type Socket } from 'node:net';
import os from 'node:os';
import path from 'node:path';

/**
 * The only way out of a subprocess sandbox that is granted network: an HTTP CONNECT proxy on a
 * Unix socket bound into the sandbox (socat there turns it into 127.0.0.1:3128, the module's
 * HTTPS_PROXY). Each CONNECT is to a `host:port` of the manifest's allowlist or refused (403);
 * names are resolved here, on the host, so the sandbox needs no DNS. One per invocation, closed
 * with it.
 */
export interface EgressProxy {
  /** Directory holding `proxy.sock`, to bind into the sandbox. */
  dir: string;
  /** `host:port` of each tunnel opened or refused. */
  log: { target: string; allowed: boolean }[];
  close(): Promise<void>;
}

const MAX_HEAD = 8192;

export async function startEgressProxy(
  allow: readonly string[],
  options: { maxConnections?: number; connectTimeoutMs?: number } = {},
): Promise<EgressProxy> {
  const allowed = new Set(allow.map((a) => a.toLowerCase()));
  const dir = await mkdtemp(path.join(os.tmpdir(), 'aion-egress-'));
  await chmod(dir, 0o755);
  const sockets = new Set<Socket>();
  const log: EgressProxy['log'] = [];
  const server = createServer((client) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => undefined);
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) {
        if (head.length > MAX_HEAD) client.destroy();
        return;
      }
      client.off('data', onData);
      const [method, target] = head.subarray(0, end).toString('latin1').split(/\s+/);
      const rest = head.subarray(end + 4);
      const ok = method === 'CONNECT' && !!target && allowed.has(target.toLowerCase());
      log.push({ target: target ?? '', allowed: ok });
      if (!ok) {
        client.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n');
        return;
      }
      const colon = target!.lastIndexOf(':');
      const upstream = connect({
        host: target!.slice(0, colon),
        port: Number(target!.slice(colon + 1)),
        timeout: options.connectTimeoutMs ?? 10_000,
      });
      sockets.add(upstream);
      upstream.on('close', () => sockets.delete(upstream));
      upstream.once('connect', () => {
        upstream.setTimeout(0);
        client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        if (rest.length) upstream.write(rest);
        client.pipe(upstream).pipe(client);
      });
      const fail = () => {
        if (!client.destroyed) client.end('HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n');
        upstream.destroy();
      };
      upstream.once('timeout', fail);
      upstream.once('error', fail);
    };
    client.on('data', onData);
  });
  server.maxConnections = options.maxConnections ?? 32;
  const socket = path.join(dir, 'proxy.sock');
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socket, resolve);
  });
  await chmod(socket, 0o666); // the sandbox user connects to it
  return {
    dir,
    log,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
      await rm(dir, { recursive: true, force: true });
    },
  };
}
