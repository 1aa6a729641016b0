import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { timestampDate } from '@bufbuild/protobuf/wkt';
import { stringify } from 'yaml';
import { AlertSeverity } from '@aion/contracts';
import { decodeEnvelope, payloadOf } from '@aion/events';
import { eventually, uniqueName, type TestDatabase } from '@aion/testing';
import { prometheusRule, SEVERITIES } from '../../src/core/alert-rules';
import { migratedDatabase, startObservability } from './running-observability';

// Custom alert rules through the gRPC API on real PostgreSQL (RLS, outbox) and Kafka; what is
// accepted is checked by the real promtool as the rule file Prometheus would load.

const scratch = mkdtempSync(path.join(os.tmpdir(), 'aion-obs-rules-'));
let db: TestDatabase;
let obs: Awaited<ReturnType<typeof startObservability>>;

beforeAll(async () => {
  db = await migratedDatabase('obsrules');
  obs = await startObservability(db);
}, 60_000);

afterAll(async () => {
  await obs?.stop();
  await db?.drop();
  rmSync(scratch, { recursive: true, force: true });
});

const rule = (over: Record<string, unknown> = {}) => ({
  id: '',
  tenantId: '',
  name: 'GatewayErrors',
  expression: 'sum(rate(aion_http_requests_total{service="gateway",status=~"5.."}[5m])) > 1',
  forDuration: '5m',
  severity: AlertSeverity.WARNING,
  labels: { team: 'edge' },
  annotations: { summary: 'The gateway answers 5xx' },
  syncStatus: '',
  syncError: '',
  ...over,
});

describe('custom alert rules over gRPC', () => {
  it('creates, reads, replaces and deletes a rule, with events, and promtool accepts what it stores', async () => {
    const tenant = uniqueName('rules-a');
    const { rule: created } = await obs.as(tenant, 'admin', (c) =>
      c.createAlertRule({ rule: rule() }),
    );
    expect(created).toMatchObject({ tenantId: tenant, syncStatus: 'pending', forDuration: '5m' });
    const id = created!.id;
    await expect(
      obs.as(tenant, 'admin', (c) => c.createAlertRule({ rule: rule() })),
    ).rejects.toMatchObject({ code: 'state.conflict' });
    const { rule: updated } = await obs.as(tenant, 'admin', (c) =>
      c.updateAlertRule({
        rule: rule({ id, expression: 'aion_dependency_up == 0', severity: AlertSeverity.CRITICAL }),
      }),
    );
    expect(updated).toMatchObject({ expression: 'aion_dependency_up == 0', severity: 3 });

    const listed = await obs.as(tenant, 'observer', (c) => c.listAlertRules({}));
    const file = path.join(scratch, 'custom.yaml');
    writeFileSync(
      file,
      stringify({
        groups: [
          {
            name: `aion-tenant-${tenant}`,
            rules: listed.rules.map((r) =>
              prometheusRule({
                ...r,
                severity: SEVERITIES[r.severity - 1]!,
                syncStatus: 'pending',
                createdAt: timestampDate(r.createdAt!),
                updatedAt: timestampDate(r.updatedAt!),
              }),
            ),
          },
        ],
      }),
    );
    const check = spawnSync('promtool', ['check', 'rules', file], { encoding: 'utf8' });
    expect(check.error).toBeUndefined();
    expect(`${check.stdout}${check.stderr}`).toContain('SUCCESS: 1 rules found');

    await obs.as(tenant, 'admin', (c) => c.deleteAlertRule({ id }));
    await expect(obs.as(tenant, 'admin', (c) => c.getAlertRule({ id }))).rejects.toMatchObject({
      code: 'resource.not_found',
    });
    const types = await eventually(async () => {
      const rows = await db.queryAsOwner<{ value: Buffer; published_at: Date | null }>(
        'select value, published_at from obs_outbox where tenant_id = $1 order by seq',
        [tenant],
      );
      if (rows.some((r) => !r.published_at)) return undefined;
      return rows.map((r) => decodeEnvelope(r.value));
    }, 20_000);
    expect(types.map((e) => e.type)).toEqual([
      'alert_rule.created',
      'alert_rule.updated',
      'alert_rule.deleted',
    ]);
    expect(payloadOf(types[2]!, 'alert_rule.deleted').ruleId).toBe(id);
  });

  it('refuses an unparsable expression, bad labels and a bad duration, listing every problem', async () => {
    const tenant = uniqueName('rules-b');
    const err = await obs
      .as(tenant, 'admin', (c) =>
        c.createAlertRule({
          rule: rule({
            expression: 'sum(rate(x[5m]) by',
            forDuration: 'soon',
            severity: 0,
            labels: { tenant_id: 'someone-else' },
          }),
        }),
      )
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'validation.invalid_argument' });
    expect(
      ((err as { details: { field: string }[] }).details ?? []).map((d) => d.field).sort(),
    ).toEqual(['expression', 'for', 'labels.tenant_id', 'severity']);
    expect((await obs.as(tenant, 'admin', (c) => c.listAlertRules({}))).rules).toEqual([]);
  });

  it('keeps tenants apart and leaves changes to observability:manage', async () => {
    const a = uniqueName('rules-c');
    const { rule: mine } = await obs.as(a, 'admin', (c) => c.createAlertRule({ rule: rule() }));
    const id = mine!.id;
    const b = uniqueName('rules-d');
    await expect(obs.as(b, 'admin', (c) => c.getAlertRule({ id }))).rejects.toMatchObject({
      code: 'resource.not_found',
    });
    await expect(obs.as(b, 'admin', (c) => c.deleteAlertRule({ id }))).rejects.toMatchObject({
      code: 'resource.not_found',
    });
    await expect(
      obs.as(a, 'operator', (c) => c.createAlertRule({ rule: rule({ name: 'Other' }) })),
    ).rejects.toMatchObject({ code: 'auth.forbidden' });
    expect((await obs.as(a, 'observer', (c) => c.getAlertRule({ id }))).rule?.name).toBe(
      'GatewayErrors',
    );
  });
});
