import { eq, sql } from 'drizzle-orm';
import type { JWK } from 'jose';
import { TenantRepository, withoutTenant, type Db } from '@aion/db';
import type { OutboxWriter } from '@aion/events';
import type { ComplianceData } from '../../core/compliance-data';
import type { ComplianceOverrides } from '../../core/compliance';
import type { RoutingLog } from '../../core/ports';
import { dataContextProto } from '../../proto';
import type { ReceiptKeyStore, StoredReceiptKey } from '../../core/receipt-keys';
import { complianceMaps, receiptKeys } from './schema';

/** A tenant's compliance overrides (RLS by tenant); a new or changed map is compliance.mapping_created. */
export class PostgresComplianceOverrides extends TenantRepository implements ComplianceOverrides {
  constructor(
    db: Db,
    private readonly outbox: OutboxWriter,
    private readonly toProto: (jurisdiction: string, data: ComplianceData) => unknown,
  ) {
    super(db);
  }

  get(jurisdiction: string) {
    return this.tx(async (tx) => {
      const [row] = await tx
        .select({ data: complianceMaps.data })
        .from(complianceMaps)
        .where(eq(complianceMaps.jurisdiction, jurisdiction));
      return row?.data as ComplianceData | undefined;
    });
  }

  put(jurisdiction: string, data: ComplianceData) {
    return this.tx(async (tx, tenantId) => {
      await tx
        .insert(complianceMaps)
        .values({ tenantId, jurisdiction, data })
        .onConflictDoUpdate({
          target: [complianceMaps.tenantId, complianceMaps.jurisdiction],
          set: { data, updatedAt: sql`now()` },
        });
      await this.outbox.add(tx, {
        type: 'compliance.mapping_created',
        key: jurisdiction,
        payload: { compliance: this.toProto(jurisdiction, data) as never },
      });
    });
  }
}

/** Receipt signing keys: platform-wide rows, read and written outside any tenant. */
export class PostgresReceiptKeys implements ReceiptKeyStore {
  constructor(private readonly db: Db) {}

  all(): Promise<StoredReceiptKey[]> {
    return withoutTenant(this.db, async (tx) =>
      (await tx.select().from(receiptKeys)).map((r) => ({ ...r, publicJwk: r.publicJwk as JWK })),
    );
  }

  /** One statement: the unique generation decides between replicas inserting at once. */
  async insertIfAbsent(key: StoredReceiptKey): Promise<boolean> {
    const stored = await withoutTenant(this.db, (tx) =>
      tx
        .insert(receiptKeys)
        .values(key)
        .onConflictDoNothing({ target: receiptKeys.generation })
        .returning({ kid: receiptKeys.kid }),
    );
    return stored.length === 1;
  }
}

/** Routing decisions as routing.decision events through the outbox, in the current tenant. */
export class OutboxRoutingLog extends TenantRepository implements RoutingLog {
  constructor(
    db: Db,
    private readonly outbox: OutboxWriter,
  ) {
    super(db);
  }

  async record(d: Parameters<RoutingLog['record']>[0]): Promise<void> {
    await this.tx((tx) =>
      this.outbox.add(tx, {
        type: 'routing.decision',
        key: d.taskId || d.deploymentId,
        payload: {
          taskId: d.taskId,
          dataContext: dataContextProto(d.data),
          deploymentId: d.deploymentId,
          jurisdiction: d.jurisdiction,
          decidedByRule: d.ruleId,
          reason: d.reason,
          usedFallback: d.usedFallback,
        },
      }),
    );
  }
}
