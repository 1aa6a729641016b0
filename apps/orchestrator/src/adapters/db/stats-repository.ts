import { sql } from 'drizzle-orm';
import { rowsOf, TenantRepository } from '@aion/db';
import type { StatsStore, TenantStats } from '../../core/stats';

const UNFINISHED = sql`('QUEUED','ROUTED','RUNNING')`;

/**
 * The tenant's summary in one transaction: a handful of aggregates, each over an index on
 * (tenant_id, time) or a small table. Counts come back as text (bigint) and are read as numbers.
 */
export class PostgresStats extends TenantRepository implements StatsStore {
  async stats(window: { since: Date; until: Date }): Promise<Omit<TenantStats, 'since' | 'until'>> {
    const { since, until } = window;
    return this.tx(async (tx) => {
      const [byStatus, inFlight, latency, open, pending, usage, audit] = await Promise.all([
        tx.execute(sql`select status, count(*)::text as n from orc_tasks
          where created_at >= ${since} and created_at < ${until} group by status`),
        tx.execute(sql`select count(*)::text as n from orc_tasks where status in ${UNFINISHED}`),
        tx.execute(sql`select
            coalesce(percentile_disc(0.5) within group (order by latency_ms), 0) as p50,
            coalesce(percentile_disc(0.95) within group (order by latency_ms), 0) as p95
          from orc_tasks
          where status = 'OK' and latency_ms is not null
            and updated_at >= ${since} and updated_at < ${until}`),
        tx.execute(sql`select count(*)::text as n from orc_dead_letters where resolved_at is null`),
        tx.execute(
          sql`select count(*)::text as n from orc_prompt_versions where status = 'pending_approval'`,
        ),
        tx.execute(sql`select coalesce(sum(cost_usd), 0)::text as cost,
            coalesce(sum(input_tokens), 0)::text as input, coalesce(sum(output_tokens), 0)::text as output
          from orc_usage_records where occurred_at >= ${since} and occurred_at < ${until}`),
        tx.execute(sql`select outcome, count(*)::text as n from orc_audit_log
          where occurred_at >= ${since} and occurred_at < ${until} group by outcome`),
      ]);
      const count = (result: unknown) => Number(rowsOf<{ n: string }>(result)[0]?.n ?? 0);
      const outcomes = Object.fromEntries(
        rowsOf<{ outcome: string; n: string }>(audit).map((r) => [r.outcome, Number(r.n)]),
      );
      const lat = rowsOf<{ p50: number; p95: number }>(latency)[0];
      const spent = rowsOf<{ cost: string; input: string; output: string }>(usage)[0];
      return {
        tasksByStatus: Object.fromEntries(
          rowsOf<{ status: string; n: string }>(byStatus).map((r) => [r.status, Number(r.n)]),
        ),
        tasksInFlight: count(inFlight),
        latencyP50Ms: Number(lat?.p50 ?? 0),
        latencyP95Ms: Number(lat?.p95 ?? 0),
        deadLettersOpen: count(open),
        promptApprovalsPending: count(pending),
        costUsd: Number(spent?.cost ?? 0),
        inputTokens: Number(spent?.input ?? 0),
        outputTokens: Number(spent?.output ?? 0),
        audit: {
          success: outcomes['success'] ?? 0,
          denied: outcomes['denied'] ?? 0,
          failure: outcomes['failure'] ?? 0,
        },
      };
    });
  }
}
