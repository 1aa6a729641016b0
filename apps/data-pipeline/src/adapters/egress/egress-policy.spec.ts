import http from 'node:http';
import net from 'node:net';
import { canonicalIp } from './address-ranges';
import { egressFetch } from './egress-fetch';
import { EgressPolicy } from './egress-policy';

const url = (u: string) => new URL(u);
const refused = (policy: EgressPolicy, u: string) => () => policy.checkUrl(url(u));

describe('canonicalIp', () => {
  it.each([
    ['2130706433', '127.0.0.1'],
    ['0x7f.1', '127.0.0.1'],
    ['0177.0.0.1', '127.0.0.1'],
    ['127.1', '127.0.0.1'],
    ['[::ffff:127.0.0.1]', '127.0.0.1'],
    ['::ffff:7f00:1', '127.0.0.1'],
    ['0:0:0:0:0:ffff:a9fe:a9fe', '169.254.169.254'],
    ['[FD00:EC2::254]', 'fd00:ec2::254'],
    ['example.com', undefined],
  ])('%s -> %s', (host, ip) => expect(canonicalIp(host)).toBe(ip));
});

describe('EgressPolicy', () => {
  const anyPublic = EgressPolicy.parse('*');

  it('refuses everything when nothing is allowed', () => {
    const none = EgressPolicy.parse('');
    expect(refused(none, 'https://api.example.com/x')).toThrow(/not in the egress allowlist/);
    expect(refused(none, 'http://93.184.216.34/')).toThrow(/not in the egress allowlist/);
  });

  it('refuses schemes other than http(s) and credentials in the URL', () => {
    expect(refused(anyPublic, 'file:///etc/passwd')).toThrow(/file: URLs are not allowed/);
    expect(refused(anyPublic, 'gopher://93.184.216.34/')).toThrow(/not allowed/);
    expect(refused(anyPublic, 'http://u:p@93.184.216.34/')).toThrow(/credentials/);
  });

  it.each([
    'http://127.0.0.1/',
    'http://2130706433/',
    'http://0x7f000001/',
    'http://0x7f.1/',
    'http://0177.0.0.1/',
    'http://127.1/',
    'http://0/',
    'http://[::1]/',
    'http://[::ffff:127.0.0.1]/',
    'http://[0:0:0:0:0:ffff:7f00:1]/',
    'http://[::7f00:1]/',
    'http://[64:ff9b::7f00:1]/',
    'http://10.1.2.3/',
    'http://172.16.0.1/',
    'http://192.168.1.1/',
    'http://100.64.0.1/',
    'http://169.254.1.1/',
    'http://[fe80::1]/',
    'http://[fc00::1]/',
    'http://169.254.169.254/latest/meta-data/',
    'http://2852039166/',
    'http://[::ffff:a9fe:a9fe]/',
    'http://[fd00:ec2::254]/',
    'http://168.63.129.16/',
    'http://100.100.100.200/',
    'http://224.0.0.1/',
    'http://255.255.255.255/',
  ])('refuses %s even under "*"', (u) => {
    expect(refused(anyPublic, u)).toThrow(/address; only an explicit AION_PIPELINE_EGRESS_ALLOW/);
  });

  it('admits public addresses under "*", reporting refusals as the policy forbidding them (403)', () => {
    expect(() => anyPublic.checkUrl(url('https://93.184.216.34/x'))).not.toThrow();
    expect(() => anyPublic.checkUrl(url('https://api.example.com/x'))).not.toThrow();
    try {
      anyPublic.checkUrl(url('http://127.0.0.1/'));
    } catch (err) {
      expect(err).toMatchObject({
        code: 'auth.forbidden',
        details: [{ field: 'source.url', reason: 'egress_refused' }],
      });
    }
    expect.assertions(3);
  });

  it('admits a special address only by an explicit address or CIDR entry, with its port', () => {
    const p = EgressPolicy.parse('127.0.0.1:8080, 10.0.0.0/8');
    expect(() => p.checkUrl(url('http://127.0.0.1:8080/'))).not.toThrow();
    expect(() => p.checkUrl(url('http://2130706433:8080/'))).not.toThrow();
    expect(() => p.checkUrl(url('http://[::ffff:127.0.0.1]:8080/'))).not.toThrow();
    expect(refused(p, 'http://127.0.0.1:8081/')).toThrow(/loopback/);
    expect(() => p.checkUrl(url('http://10.9.8.7:5432/'))).not.toThrow();
    expect(refused(p, 'http://192.168.0.1/')).toThrow(/private/);
    // A name that resolves into an allowed range is admitted on its resolved address.
    expect(() => p.checkAddress('db.internal', '10.1.1.1', 80)).not.toThrow();
  });

  it('admits a metadata address only by an entry naming exactly it', () => {
    expect(refused(EgressPolicy.parse('169.254.0.0/16'), 'http://169.254.169.254/')).toThrow(
      /cloud metadata/,
    );
    expect(refused(EgressPolicy.parse('0.0.0.0/0'), 'http://169.254.169.254/')).toThrow(
      /cloud metadata/,
    );
    expect(() =>
      EgressPolicy.parse('169.254.169.254').checkUrl(url('http://169.254.169.254/')),
    ).not.toThrow();
  });

  it('matches names, wildcards and ports, and never lets a name unlock a special address', () => {
    const p = EgressPolicy.parse('api.example.com, *.data.example.org:8443');
    expect(() => p.checkUrl(url('https://api.example.com/v1'))).not.toThrow();
    expect(refused(p, 'https://other.example.com/')).toThrow(/not in the egress allowlist/);
    expect(() => p.checkUrl(url('https://eu.data.example.org:8443/'))).not.toThrow();
    expect(refused(p, 'https://eu.data.example.org/')).toThrow(/:443 is not in/);
    expect(refused(p, 'https://data.example.org:8443/')).toThrow(/not in/);
    expect(refused(p, 'https://evildata.example.org:8443/')).toThrow(/not in/);
    expect(() => p.checkAddress('api.example.com', '93.184.216.34', 443)).not.toThrow();
    // DNS rebinding: the allowed name now resolves to loopback or metadata.
    expect(() => p.checkAddress('api.example.com', '127.0.0.1', 443)).toThrow(/loopback/);
    expect(() => p.checkAddress('api.example.com', '169.254.169.254', 443)).toThrow(
      /cloud metadata/,
    );
  });

  it('refuses malformed entries at startup', () => {
    expect(() => EgressPolicy.parse('10.0.0.0/33')).toThrow(/not a CIDR/);
    expect(() => EgressPolicy.parse('example.com/x')).toThrow(/not a CIDR/);
    expect(() => EgressPolicy.parse('[bad')).toThrow(/not a host/);
    expect(() => EgressPolicy.parse('example.com:99999')).toThrow(/not a host/);
  });

  it('resolves a name and refuses it when an address is special', async () => {
    await expect(anyPublic.resolve('localhost', 80)).rejects.toThrow(/localhost resolves to/);
    await expect(EgressPolicy.parse('127.0.0.1').resolve('localhost', 80)).resolves.toEqual(
      expect.arrayContaining([{ address: '127.0.0.1', family: 4 }]),
    );
  });
});

describe('connections through the policy', () => {
  let server: http.Server;
  let port: number;
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      if (req.url?.startsWith('/to/')) {
        res.writeHead(302, { location: decodeURIComponent(req.url.slice(4)) }).end();
      } else res.end(JSON.stringify({ path: req.url }));
    });
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    port = (server.address() as net.AddressInfo).port;
  });
  afterAll(() => new Promise((ok) => server.close(ok)));

  it('connects a socket only to a checked address (the lookup is the check)', async () => {
    const connect = (policy: EgressPolicy) =>
      new Promise<void>((ok, fail) => {
        const s = net.connect({ host: 'localhost', port, lookup: policy.lookupFor(port) });
        s.once('connect', () => {
          s.destroy();
          ok();
        });
        s.once('error', fail);
      });
    await expect(connect(anyPublicPolicy())).rejects.toThrow(/loopback/);
    await expect(connect(EgressPolicy.parse(`127.0.0.1:${port}`))).resolves.toBeUndefined();
  });

  const anyPublicPolicy = () => EgressPolicy.parse('*');
  const get = (policy: EgressPolicy, u: string) =>
    egressFetch(policy, new URL(u), { signal: AbortSignal.timeout(5_000), maxBytes: 1_000 });

  it('follows a redirect to an allowed address and refuses one to a forbidden address', async () => {
    const policy = EgressPolicy.parse(`127.0.0.1:${port}`);
    const ok = await get(policy, `http://127.0.0.1:${port}/to/${encodeURIComponent('/data')}`);
    expect(ok).toMatchObject({ status: 200, body: '{"path":"/data"}' });
    for (const target of [
      'http://169.254.169.254/latest/meta-data/',
      `http://[::1]:${port}/data`,
      `http://127.0.0.1:${port + 1}/data`,
      'http://2852039166/',
      'file:///etc/passwd',
    ])
      await expect(
        get(policy, `http://127.0.0.1:${port}/to/${encodeURIComponent(target)}`),
      ).rejects.toMatchObject({ code: 'auth.forbidden' });
  });

  it('refuses a name resolving to loopback when only "*" is allowed, and a body too large', async () => {
    await expect(get(anyPublicPolicy(), `http://localhost:${port}/x`)).rejects.toThrow(/loopback/);
    const policy = EgressPolicy.parse(`127.0.0.1:${port}`);
    await expect(
      egressFetch(policy, new URL(`http://127.0.0.1:${port}/${'x'.repeat(100)}`), {
        signal: AbortSignal.timeout(5_000),
        maxBytes: 50,
      }),
    ).rejects.toThrow(/larger than 50 bytes/);
  });
});
