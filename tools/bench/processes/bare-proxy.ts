/**
 * The floor of the peer benchmark: a bare reverse proxy (node:http in, undici out) that forwards
 * every request to the upstream and its answer back, with nothing else on the path.
 *   bare-proxy <upstream-url>   prints {"url": ...} once listening
 */
import http from 'node:http';
import { Pool } from 'undici';

const target = new URL(process.argv[2]!);
const prefix = target.pathname.replace(/\/$/, '');
const upstream = new Pool(target.origin, { connections: 256 });
const server = http.createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    upstream
      .request({
        method: 'POST',
        path: `${prefix}${req.url ?? '/'}`,
        headers: { 'content-type': 'application/json' },
        body: Buffer.concat(chunks),
      })
      .then(async ({ statusCode, body }) => {
        res.writeHead(statusCode, { 'content-type': 'application/json' });
        res.end(Buffer.from(await body.arrayBuffer()));
      })
      .catch(() => {
        res.writeHead(502);
        res.end();
      });
  });
});
server.keepAliveTimeout = 65_000;
server.listen(0, '127.0.0.1', () => {
  const address = server.address() as { port: number };
  process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${address.port}` })}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
