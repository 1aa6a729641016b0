import { AionError } from '@aion/errors';
import type { Reference } from './oci';

/**
 * Registry authentication: basic credentials, or the distribution token flow most public
 * registries use (even for anonymous pulls): a 401 names a token service and a scope in
 * `WWW-Authenticate: Bearer realm=…,service=…,scope=…`; the token it hands out (for the
 * credentials, or anonymously) is sent as `Authorization: Bearer` and reused per repository.
 */
export class RegistryAuth {
  private readonly tokens = new Map<string, string>();

  constructor(
    private readonly basicAuth: string | undefined,
    private readonly timeoutMs: number,
  ) {}

  private basic(): string | undefined {
    return this.basicAuth ? `Basic ${Buffer.from(this.basicAuth).toString('base64')}` : undefined;
  }

  /** What to send first: the repository's last token, else basic credentials if any. */
  header(ref: Reference): string | undefined {
    return this.tokens.get(`${ref.registry}|${ref.repository}`) ?? this.basic();
  }

  /** After a 401: a bearer header for its challenge; undefined when it is not a token challenge. */
  async answer(ref: Reference, challenge: string | null): Promise<string | undefined> {
    if (!challenge || !/^Bearer\s/i.test(challenge)) return undefined;
    const params = Object.fromEntries(
      [...challenge.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1]!.toLowerCase(), m[2]!]),
    );
    if (!params.realm) return undefined;
    const url = new URL(params.realm);
    if (params.service) url.searchParams.set('service', params.service);
    if (params.scope) url.searchParams.set('scope', params.scope);
    const basic = this.basic();
    let res: Response;
    try {
      res = await fetch(url, {
        headers: basic ? { authorization: basic } : {},
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      throw new AionError('service.unavailable', `token service ${url.origin} is unreachable`, {
        cause: err,
      });
    }
    if (res.status === 401 || res.status === 403)
      throw new AionError(
        'auth.forbidden',
        `token service ${url.origin} refused ${params.scope ?? 'access'} (${res.status})`,
      );
    const body = (await res.json().catch(() => undefined)) as
      { token?: unknown; access_token?: unknown } | undefined;
    const token = body?.token ?? body?.access_token;
    if (!res.ok || typeof token !== 'string')
      throw new AionError(
        'validation.unprocessable',
        `token service ${url.origin} answered ${res.status} without a token`,
      );
    const header = `Bearer ${token}`;
    this.tokens.set(`${ref.registry}|${ref.repository}`, header);
    return header;
  }
}
