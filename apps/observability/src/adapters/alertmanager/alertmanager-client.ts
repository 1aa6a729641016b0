import * as z from 'zod/v4';
import { AionError } from '@aion/errors';
import { TENANT_LABEL, type ActiveAlert, type AlertSource } from '../../core/alerts';

/** Alertmanager API v2 GET /api/v2/alerts: the fields read here. */
const gettableAlerts = z.array(
  z.object({
    fingerprint: z.string(),
    labels: z.record(z.string(), z.string()),
    annotations: z.record(z.string(), z.string()).default({}),
    startsAt: z.string(),
    status: z.object({ state: z.enum(['active', 'suppressed', 'unprocessed']) }),
  }),
);

/** A label value inside an Alertmanager matcher: quotes and backslashes escaped. */
const quoted = (value: string) => `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;

/** Alertmanager's API v2, asked for one tenant's alerts by a `tenant_id` matcher. */
export class AlertmanagerClient implements AlertSource {
  constructor(
    private readonly baseUrl: string,
    private readonly timeoutMs: number,
  ) {}

  async active(tenantId: string): Promise<ActiveAlert[]> {
    const url = new URL('/api/v2/alerts', this.baseUrl);
    url.searchParams.set('active', 'true');
    url.searchParams.set('silenced', 'true');
    url.searchParams.set('inhibited', 'true');
    url.searchParams.append('filter', `${TENANT_LABEL}=${quoted(tenantId)}`);
    let body: unknown;
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(this.timeoutMs) });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      body = await res.json();
    } catch (err) {
      throw new AionError('service.unavailable', 'Alertmanager did not answer', { cause: err });
    }
    const parsed = gettableAlerts.safeParse(body);
    if (!parsed.success)
      throw new AionError('service.unavailable', 'Alertmanager answered something unexpected', {
        cause: parsed.error,
      });
    return parsed.data
      .filter((a) => a.status.state !== 'unprocessed')
      .map((a) => ({
        fingerprint: a.fingerprint,
        labels: a.labels,
        annotations: a.annotations,
        startsAt: new Date(a.startsAt),
        state: a.status.state === 'active' ? 'active' : 'suppressed',
      }));
  }
}
