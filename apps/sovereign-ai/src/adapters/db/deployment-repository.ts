import { asc, count, eq, sql } from 'drizzle-orm';
import { randomUUID } from 'node:crypto';
import { type Db, TenantRepository } from '@aion/db';
import { AionError } from '@aion/errors';
import type { OutboxWriter } from '@aion/events';
import { assertDeploymentTransition, DEPLOYMENT_EVENTS } from '../../core/deployments';
import {
  DEPLOYMENT_STATUSES,
  type DeploymentStatus,
  type PageWindow,
  type RegionalDeployment,
  type RoutingPolicy,
  type RoutingPolicyInput,
} from '../../core/model';
import type { DeploymentStore, NewDeployment, PolicyStore } from '../../core/ports';
import { deploymentProto, toEnum } from '../../proto';
import { regionalDeployments, routingPolicies } from './schema';

type DeploymentRow = typeof regionalDeployments.$inferSelect;
const toDeployment = (r: DeploymentRow): RegionalDeployment => ({
  ...r,
  status: r.status as DeploymentStatus,
  mode: r.mode as RegionalDeployment['mode'],
});
const BY_AGE = [asc(regionalDeployments.createdAt), asc(regionalDeployments.id)];

/** Regional deployments in PostgreSQL (RLS by tenant); every status change is an event. */
export class PostgresDeployments extends TenantRepository implements DeploymentStore {
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
          .from(regionalDeployments)
          .orderBy(...BY_AGE)
      ).map(toDeployment),
    );
  }

  page(window: PageWindow, jurisdiction?: string) {
    const where = jurisdiction ? eq(regionalDeployments.jurisdiction, jurisdiction) : undefined;
    return this.tx(async (tx) => {
      const rows = await tx
        .select()
        .from(regionalDeployments)
        .where(where)
        .orderBy(...BY_AGE)
        .limit(window.limit)
        .offset(window.offset);
      const [total] = await tx.select({ n: count() }).from(regionalDeployments).where(where);
      return { items: rows.map(toDeployment), total: total?.n ?? 0 };
    });
  }

  get(id: string) {
    return this.tx(async (tx) => {
      const [row] = await tx
        .select()
        .from(regionalDeployments)
        .where(eq(regionalDeployments.id, id));
      return row && toDeployment(row);
    });
  }

  create(id: string, d: NewDeployment) {
    return this.tx(async (tx, tenantId) => {
      const [row] = await tx
        .insert(regionalDeployments)
        .values({ id, tenantId, ...d, status: 'PENDING' })
        .returning();
      const deployment = toDeployment(row!);
      await this.outbox.add(tx, {
        type: 'deployment.initiated',
        key: id,
        payload: { deployment: deploymentProto(deployment) },
      });
      return deployment;
    });
  }

  transition(id: string, to: DeploymentStatus, reason: string, endpoint?: string) {
    return this.tx(async (tx) => {
      const [current] = await tx
        .select()
        .from(regionalDeployments)
        .where(eq(regionalDeployments.id, id))
        .for('update');
      if (!current) throw new AionError('resource.not_found', `deployment ${id} not found`);
      const before = toDeployment(current);
      assertDeploymentTransition(before, to);
      const [row] = await tx
        .update(regionalDeployments)
        .set({
          status: to,
          statusReason: reason,
          ...(endpoint !== undefined ? { endpoint } : {}),
          updatedAt: sql`now()`,
        })
        .where(eq(regionalDeployments.id, id))
        .returning();
      const deployment = toDeployment(row!);
      const payload = { deployment: deploymentProto(deployment) };
      if (to === 'ACTIVE')
        await this.outbox.add(tx, { type: 'deployment.active', key: id, payload });
      else if (to !== 'PENDING')
        await this.outbox.add(tx, {
          type: DEPLOYMENT_EVENTS[to],
          key: id,
          payload: {
            ...payload,
            previousStatus: toEnum(DEPLOYMENT_STATUSES, before.status),
            reason,
          },
        });
      return deployment;
    });
  }
}

type PolicyRow = typeof routingPolicies.$inferSelect;
const toPolicy = (r: PolicyRow): RoutingPolicy => ({
  id: r.id,
  tenantId: r.tenantId,
  name: r.name,
  strategy: r.strategy as RoutingPolicy['strategy'],
  primaryJurisdiction: r.primaryJurisdiction,
  secondaryJurisdictions: r.secondaryJurisdictions,
  createdAt: r.createdAt,
});
const nameTaken = (name: string) =>
  new AionError('state.conflict', `a routing policy named ${name} already exists`);

/** Routing policies in PostgreSQL (RLS by tenant); names are unique per tenant. */
export class PostgresPolicies extends TenantRepository implements PolicyStore {
  page(window: PageWindow) {
    return this.tx(async (tx) => {
      const rows = await tx
        .select()
        .from(routingPolicies)
        .orderBy(asc(routingPolicies.name))
        .limit(window.limit)
        .offset(window.offset);
      const [total] = await tx.select({ n: count() }).from(routingPolicies);
      return { items: rows.map(toPolicy), total: total?.n ?? 0 };
    });
  }

  get(id: string) {
    return this.tx(async (tx) => {
      const [row] = await tx.select().from(routingPolicies).where(eq(routingPolicies.id, id));
      return row && toPolicy(row);
    });
  }

  create(input: RoutingPolicyInput) {
    return this.tx(async (tx, tenantId) => {
      const [row] = await tx
        .insert(routingPolicies)
        .values({ id: randomUUID(), tenantId, ...input })
        .onConflictDoNothing()
        .returning();
      if (!row) throw nameTaken(input.name);
      return toPolicy(row);
    });
  }

  update(id: string, input: RoutingPolicyInput) {
    return this.tx(async (tx) => {
      const [clash] = await tx
        .select({ id: routingPolicies.id })
        .from(routingPolicies)
        .where(eq(routingPolicies.name, input.name));
      if (clash && clash.id !== id) throw nameTaken(input.name);
      const [row] = await tx
        .update(routingPolicies)
        .set({ ...input, updatedAt: sql`now()` })
        .where(eq(routingPolicies.id, id))
        .returning();
      return row && toPolicy(row);
    });
  }

  remove(id: string) {
    return this.tx(async (tx) => {
      const deleted = await tx
        .delete(routingPolicies)
        .where(eq(routingPolicies.id, id))
        .returning({ id: routingPolicies.id });
      return deleted.length > 0;
    });
  }
}
