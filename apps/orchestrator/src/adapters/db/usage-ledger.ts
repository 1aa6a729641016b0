import { eventTime, InvalidEventError, payloadOf, type BuiltEvent } from '@aion/events';
import type { EventEnvelope } from '@aion/contracts';
import type { Tx } from '@aion/db';
import type { UsageEntry } from '../../core/audit-log';
import { usageRecords } from './schema';

/**
 * Set on a usage.recorded message whose ledger row was written in the transaction that produced
 * it (a task's finish): the audit recorder skips those, and records the rest (events from before
 * this header existed, or from other producers) as before.
 */
export const LEDGER_WRITTEN_HEADER = 'aion-ledger-written';

/** A usage.recorded envelope as a ledger row; an impossible amount is refused, never stored. */
export function usageEntryOf(envelope: EventEnvelope): UsageEntry {
  const p = payloadOf(envelope, 'usage.recorded');
  const cost = p.usage?.costUsd ?? 0;
  if (!Number.isFinite(cost) || cost < 0)
    throw new InvalidEventError(`usage cost ${cost} is not a non-negative amount`);
  return {
    eventId: envelope.id,
    occurredAt: eventTime(envelope) ?? new Date(),
    taskId: p.taskId,
    projectId: p.projectId,
    engine: p.engine,
    model: p.usage?.model ?? '',
    inputTokens: p.usage?.inputTokens ?? 0,
    outputTokens: p.usage?.outputTokens ?? 0,
    costUsd: cost,
    latencyMs: p.usage?.latencyMs ?? 0,
  };
}

/**
 * The ledger rows of a batch's usage.recorded events, to be written in the batch's own
 * transaction; their messages are marked so that the recorder does not write them again. A
 * task's cost is then in the ledger the moment the task is OK, at no transaction of its own.
 * Call before the outbox insert: the mark travels in the message's headers.
 */
export function usageLedgerRows(tenantId: string, events: BuiltEvent[]) {
  return events
    .filter((e) => e.envelope.type === 'usage.recorded')
    .map((e) => {
      e.message.headers[LEDGER_WRITTEN_HEADER] = 'true';
      return { tenantId, ...usageEntryOf(e.envelope) };
    });
}

export async function writeUsageLedger(
  tx: Tx,
  rows: ReturnType<typeof usageLedgerRows>,
): Promise<void> {
  if (rows.length > 0) await tx.insert(usageRecords).values(rows).onConflictDoNothing();
}
