import { sql } from 'drizzle-orm';
import { type Db, TenantRepository } from '@aion/db';
import type { OutboxWriter } from '@aion/events';
import type { Classification, LlmTracingSettings } from '../../core/llm-tracing';
import type { LlmTracingStore } from '../../core/llm-tracing-service';
import { llmTracingSettingsProto } from '../../proto';
import { llmTracing } from './schema';

type Row = typeof llmTracing.$inferSelect;
const toSettings = (r: Row): LlmTracingSettings => ({
  tenantId: r.tenantId,
  enabled: r.enabled,
  langfuseUrl: r.langfuseUrl,
  langfuseJurisdiction: r.langfuseJurisdiction,
  publicKey: r.publicKey,
  secretKeyRef: r.secretKeyRef,
  maskedClassifications: r.maskedClassifications as Classification[],
  updatedAt: r.updatedAt,
});

/**
 * The calling tenant's LLM tracing settings in PostgreSQL (one row per tenant, RLS), which hold
 * the secret key's name, never the key; each change is an `llm_tracing.updated` event.
 */
export class PostgresLlmTracing extends TenantRepository implements LlmTracingStore {
  constructor(
    db: Db,
    private readonly outbox: OutboxWriter,
  ) {
    super(db);
  }

  get() {
    return this.tx(async (tx) => {
      const [row] = await tx.select().from(llmTracing);
      return row && toSettings(row);
    });
  }

  put(settings: LlmTracingSettings, secretKeySet: boolean) {
    return this.tx(async (tx, tenantId) => {
      const values = {
        enabled: settings.enabled,
        langfuseUrl: settings.langfuseUrl,
        langfuseJurisdiction: settings.langfuseJurisdiction,
        publicKey: settings.publicKey,
        secretKeyRef: settings.secretKeyRef,
        maskedClassifications: settings.maskedClassifications,
      };
      const [row] = await tx
        .insert(llmTracing)
        .values({ tenantId, ...values })
        .onConflictDoUpdate({
          target: llmTracing.tenantId,
          set: { ...values, updatedAt: sql`now()` },
        })
        .returning();
      const stored = toSettings(row!);
      await this.outbox.add(tx, {
        type: 'llm_tracing.updated',
        key: tenantId,
        payload: { settings: llmTracingSettingsProto({ ...stored, secretKeySet }) },
      });
      return stored;
    });
  }
}
