import { createHash, timingSafeEqual } from 'node:crypto';
import express, { type Express } from 'express';
import * as z from 'zod/v4';
import { AionError } from '@aion/errors';
import type { Logger } from '@aion/telemetry';
import type { AlertNotification, AlertService } from '../core/alerts';

export const WEBHOOK_PATH = '/v1/alertmanager/webhook';

/** Alertmanager's webhook body (version 4): the fields read here. */
const notification = z.object({
  version: z.literal('4'),
  alerts: z
    .array(
      z.object({
        status: z.enum(['firing', 'resolved']),
        fingerprint: z.string().min(1).max(64),
        labels: z.record(z.string(), z.string()),
        annotations: z.record(z.string(), z.string()).default({}),
        startsAt: z.iso.datetime({ offset: true }),
        endsAt: z.iso.datetime({ offset: true }).optional(),
      }),
    )
    .max(10_000),
});

const digest = (value: string) => createHash('sha256').update(value).digest();

/**
 * POST /v1/alertmanager/webhook on the service's own HTTP port: Alertmanager reports firing and
 * resolved alerts; the caller must present the configured bearer token (http_config.authorization).
 */
export function mountAlertmanagerWebhook(
  app: Express,
  deps: { alerts: AlertService; token: string | undefined; logger: Logger },
): void {
  const expected = deps.token ? digest(deps.token) : undefined;
  app.post(WEBHOOK_PATH, express.json({ limit: '5mb' }), async (req, res) => {
    const header = req.get('authorization') ?? '';
    const given = header.startsWith('Bearer ') ? digest(header.slice(7)) : undefined;
    // Digests of equal length, compared in constant time; no token configured refuses everyone.
    if (!expected || !given || !timingSafeEqual(expected, given))
      throw new AionError('auth.unauthenticated', 'the webhook needs its bearer token');
    const parsed = notification.safeParse(req.body);
    if (!parsed.success)
      throw AionError.validation(
        'not an Alertmanager webhook notification (version 4)',
        parsed.error.issues.map((i) => ({ field: i.path.join('.'), message: i.message })),
      );
    const alerts: AlertNotification[] = parsed.data.alerts.map((a) => ({
      fingerprint: a.fingerprint,
      status: a.status,
      labels: a.labels,
      annotations: a.annotations,
      startsAt: new Date(a.startsAt),
      // Alertmanager writes the zero time for an alert that has not ended.
      ...(a.endsAt && !a.endsAt.startsWith('0001-') ? { endsAt: new Date(a.endsAt) } : {}),
    }));
    const result = await deps.alerts.receive(alerts);
    deps.logger.info('alertmanager notification', { ...result });
    res.status(200).json(result);
  });
}
