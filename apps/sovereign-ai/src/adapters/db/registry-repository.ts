import { randomUUID } from 'node:crypto';
import { and, asc, count, eq, sql, type SQL } from 'drizzle-orm';
import { type Db, TenantRepository } from '@aion/db';
import { AionError } from '@aion/errors';
import type { OutboxWriter } from '@aion/events';
import { requireTenant } from '@aion/tenancy';
import {
  MODEL_STATUSES,
  type ModelStatus,
  type PageWindow,
  type SovereignModel,
} from '../../core/model';
import { assertModelTransition, MODEL_EVENTS } from '../../core/model-registry';
import type { ModelStore } from '../../core/ports';
import { modelProto, toEnum } from '../../proto';
import { sovereignModels } from './schema';

type Row = typeof sovereignModels.$inferSelect;
const toModel = (r: Row): SovereignModel => ({ ...r, status: r.status as ModelStatus });
const ORDER = [asc(sovereignModels.createdAt), asc(sovereignModels.id)];

/** The sovereign model registry in PostgreSQL (RLS by tenant). */
export class PostgresModels extends TenantRepository implements ModelStore {
  constructor(
    db: Db,
    private readonly outbox: OutboxWriter,
  ) {
    super(db);
  }

  all() {
    return this.tx(async (tx) =>
      (
        await tx
          .select()
          .from(sovereignModels)
          .orderBy(...ORDER)
      ).map(toModel),
    );
  }

  page(window: PageWindow, filter: { jurisdiction?: string; status?: ModelStatus }) {
    const where: SQL[] = [];
    if (filter.jurisdiction) where.push(eq(sovereignModels.jurisdiction, filter.jurisdiction));
    if (filter.status) where.push(eq(sovereignModels.status, filter.status));
    return this.tx(async (tx) => {
      const rows = await tx
        .select()
        .from(sovereignModels)
        .where(and(...where))
        .orderBy(...ORDER)
        .limit(window.limit)
        .offset(window.offset);
      const [total] = await tx
        .select({ n: count() })
        .from(sovereignModels)
        .where(and(...where));
      return { items: rows.map(toModel), total: total?.n ?? 0 };
    });
  }

  get(id: string) {
    return this.tx(async (tx) => {
      const [row] = await tx.select().from(sovereignModels).where(eq(sovereignModels.id, id));
      return row && toModel(row);
    });
  }

  register(m: Pick<SovereignModel, 'modelRef' | 'name' | 'version' | 'jurisdiction'>) {
    return this.tx(async (tx, tenantId) => {
      const { subject: registeredBy, owner: registeredByOwner } = requireTenant();
      const [row] = await tx
        .insert(sovereignModels)
        .values({
          id: randomUUID(),
          tenantId,
          ...m,
          status: 'PENDING',
          registeredBy,
          registeredByOwner,
        })
        .onConflictDoNothing()
        .returning();
      if (!row)
        throw new AionError(
          'state.conflict',
          `model ${m.modelRef}${m.version ? `@${m.version}` : ''} is already registered for ${m.jurisdiction}`,
        );
      const model = toModel(row);
      await this.outbox.add(tx, {
        type: 'model.registered',
        key: model.id,
        payload: {
          model: modelProto(model),
          previousStatus: 0,
          actor: registeredBy,
          reason: '',
        },
      });
      return model;
    });
  }

  decide(id: string, to: 'APPROVED' | 'REJECTED' | 'REVOKED', actor: string, reason: string) {
    return this.tx(async (tx) => {
      // Locked, so two concurrent decisions cannot both pass the state check.
      const [current] = await tx
        .select()
        .from(sovereignModels)
        .where(eq(sovereignModels.id, id))
        .for('update');
      if (!current) throw new AionError('resource.not_found', `model ${id} not found`);
      const before = toModel(current);
      assertModelTransition(before, to);
      const [row] = await tx
        .update(sovereignModels)
        .set({ status: to, decidedBy: actor, decisionReason: reason, updatedAt: sql`now()` })
        .where(eq(sovereignModels.id, id))
        .returning();
      const model = toModel(row!);
      await this.outbox.add(tx, {
        type: MODEL_EVENTS[to],
        key: model.id,
        payload: {
          model: modelProto(model),
          previousStatus: toEnum(MODEL_STATUSES, before.status),
          actor,
          reason,
        },
      });
      return model;
    });
  }
}
