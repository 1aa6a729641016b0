import { createServer, type Server } from 'node:http';

/**
 * A stand-in for Loki's query API (Loki is an AGPL server and is not run here): it answers
 * GET /loki/api/v1/query_range as Loki documents it — multi-tenant by X-Scope-OrgID (401 without
 * one), a stream selector required (400 with a parse error as plain text otherwise), nanosecond
 * timestamps, `limit`, backward order — over lines pushed per tenant. Equality matchers of the
 * selector filter streams; other LogQL stages are not evaluated.
 */
export interface LokiStandIn {
  url: string;
  push(tenant: string, stream: Record<string, string>, line: string, time?: Date): void;
  /** The X-Scope-OrgID of each request, in order. */
  orgIds: string[];
  close(): Promise<void>;
}

const SELECTOR =
  /^\{\s*([a-zA-Z_]\w*\s*(=|!=|=~|!~)\s*"(?:[^"\\]|\\.)*"\s*(,\s*[a-zA-Z_]\w*\s*(=|!=|=~|!~)\s*"(?:[^"\\]|\\.)*"\s*)*)\}/;

export async function startLokiStandIn(port = 0): Promise<LokiStandIn> {
  const lines = new Map<string, { stream: Record<string, string>; line: string; ns: bigint }[]>();
  const orgIds: string[] = [];
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://stand-in');
    if (url.pathname !== '/loki/api/v1/query_range') {
      res.writeHead(404).end('404 page not found\n');
      return;
    }
    const org = req.headers['x-scope-orgid'];
    if (typeof org !== 'string' || !org) {
      res.writeHead(401).end('no org id\n');
      return;
    }
    orgIds.push(org);
    const query = url.searchParams.get('query') ?? '';
    const selector = SELECTOR.exec(query.trim());
    if (!selector) {
      res.writeHead(400).end('parse error at line 1, col 1: syntax error: unexpected IDENTIFIER\n');
      return;
    }
    const equals = [...selector[1]!.matchAll(/([a-zA-Z_]\w*)\s*=\s*"((?:[^"\\]|\\.)*)"/g)].map(
      (m) => [m[1]!, JSON.parse(`"${m[2]!}"`) as string] as const,
    );
    const start = BigInt(url.searchParams.get('start') ?? '0');
    const end = BigInt(url.searchParams.get('end') ?? String(BigInt(Date.now()) * 1_000_000n));
    const limit = Number(url.searchParams.get('limit') ?? '100');
    const matching = (lines.get(org) ?? [])
      .filter((l) => l.ns >= start && l.ns <= end)
      .filter((l) => equals.every(([k, v]) => l.stream[k] === v))
      .sort((a, b) => (a.ns < b.ns ? 1 : -1))
      .slice(0, limit);
    const byStream = new Map<
      string,
      { stream: Record<string, string>; values: [string, string][] }
    >();
    for (const l of matching) {
      const key = JSON.stringify(l.stream);
      const entry = byStream.get(key) ?? { stream: l.stream, values: [] };
      entry.values.push([String(l.ns), l.line]);
      byStream.set(key, entry);
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(
      JSON.stringify({
        status: 'success',
        data: { resultType: 'streams', result: [...byStream.values()], stats: {} },
      }),
    );
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const address = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${address.port}`,
    orgIds,
    push(tenant, stream, line, time = new Date()) {
      const list = lines.get(tenant) ?? [];
      list.push({ stream, line, ns: BigInt(time.getTime()) * 1_000_000n });
      lines.set(tenant, list);
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

// Run on its own (the contract run): `tsx loki-stand-in.ts <port>`.
if (require.main === module) {
  void startLokiStandIn(Number(process.argv[2] ?? 3100)).then((loki) =>
    process.stdout.write(`loki stand-in on ${loki.url}\n`),
  );
}
