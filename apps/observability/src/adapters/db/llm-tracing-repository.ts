import { sql } from 'drizzle-orm';
import { type Db, TenantRepository } from '@aion/db';
import type { OutboxWriter } from '@aion/events';
import type { Classification, LlmTracingSettings, LlmTracingStore } from '../../core/llm-tracing';
import { llmTracingSettingsProto } from '../../proto';
import { llmTracing } from './schema';

type Row = typeof llmTracing.$inferSelect;
const toSettings = (r: Row): LlmTracingSettings & { secretKey: string } => ({
  tenantId: r.tenantId,
  enabled: r.enabled,
  langfuseUrl: r.langfuseUrl,
  langfuseJurisdiction: r.langfuseJurisdiction,
  publicKey: r.publicKey,
  secretKey: r.secretKey,
  maskedClassifications: r.maskedClassifications as Classification[],
  updatedAt: r.updatedAt,
});

/**
 * The calling tenant's LLM tracing settings in PostgreSQL (one row per tenant, RLS); each change
 * is an `llm_tracing.updated` event (the settings as stored, never the secret key).
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

  put(settings: LlmTracingSettings, secretKey: string | undefined) {
    return this.tx(async (tx, tenantId) => {
      const values = {
        enabled: settings.enabled,
        langfuseUrl: settings.langfuseUrl,
        langfuseJurisdiction: settings.langfuseJurisdiction,
        publicKey: settings.publicKey,
        maskedClassifications: settings.maskedClassifications,
        // An empty secret keeps the stored one: the API never reads it back to send it again.
        ...(secretKey ? { secretKey } : {}),
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
      const { secretKey: storedSecret, ...shown } = stored;
      await this.outbox.add(tx, {
        type: 'llm_tracing.updated',
        key: tenantId,
        payload: {
          settings: llmTracingSettingsProto({ ...shown, secretKeySet: storedSecret !== '' }),
        },
      });
      return stored;
    });
  }
}
