import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { sql } from 'drizzle-orm';
import type { Db } from '@aion/db';
import type { Logger } from '@aion/telemetry';

/** A replica id operators can read: host, process and a random part (pids repeat in containers). */
export function newReplicaId(): string {
  return `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
}

/**
 * This replica's row in orc_replica_leases, renewed by its own timer (independent of task work)
 * every third of the lease, so a slow replica keeps its lease while its event loop turns. A
 * renewal after the lease lapsed starts `held_since` over (see the reaper's rule).
 */
export class PostgresReplicaLease {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly db: Db,
    readonly replicaId: string,
    private readonly leaseMs: number,
    private readonly logger?: Logger,
  ) {}

  async renew(): Promise<void> {
    const secs = this.leaseMs / 1000;
    await this.db.execute(sql`
      insert into orc_replica_leases (replica_id, held_since, renewed_at, expires_at)
      values (${this.replicaId}, now(), now(), now() + make_interval(secs => ${secs}))
      on conflict (replica_id) do update set
        held_since = case when orc_replica_leases.expires_at >= now()
          then orc_replica_leases.held_since else now() end,
        renewed_at = now(),
        expires_at = now() + make_interval(secs => ${secs})`);
  }

  /** Renews now and then every third of the lease; leases lapsed a day ago are removed. */
  async start(): Promise<void> {
    await this.renew().catch((err: unknown) => this.warn(err));
    await this.db
      .execute(sql`delete from orc_replica_leases where expires_at < now() - interval '1 day'`)
      .catch((err: unknown) => this.warn(err));
    this.timer = setInterval(
      () => void this.renew().catch((err: unknown) => this.warn(err)),
      Math.max(50, Math.floor(this.leaseMs / 3)),
    );
    this.timer.unref();
  }

  /** Stops renewing and lets the lease lapse now: what this replica left running is recovered. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.db
      .execute(
        sql`update orc_replica_leases set expires_at = now() where replica_id = ${this.replicaId}`,
      )
      .catch((err: unknown) => this.warn(err));
  }

  private warn(err: unknown): void {
    this.logger?.warn('could not renew this replica lease; retrying', {
      replica_id: this.replicaId,
      reason: err instanceof Error ? err.message : String(err),
    });
  }
}
