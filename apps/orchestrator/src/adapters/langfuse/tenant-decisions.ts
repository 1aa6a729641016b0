import { randomUUID } from 'node:crypto';
import type { ObservabilityService } from '@aion/contracts';
import type { ClientOf } from '@aion/grpc';
import { runWithTenant } from '@aion/tenancy';
import { PROTO_CLASSIFICATION } from '../../proto';
import type { DecideLlmTrace, LlmTraceDecision } from './llm-tracing';

/**
 * Each tenant's own LLM tracing settings, decided by the observability service (opted in or not,
 * masking by classification, whether the data may go where the tenant's Langfuse runs). A
 * decision is kept `ttlMs` per tenant and data context, so a busy tenant costs one call per
 * interval, and tasks ending together share the call in flight; a failed call is asked again by
 * the next task.
 */
export function observabilityDecisions(
  client: Pick<ClientOf<typeof ObservabilityService>, 'decideLlmTrace'>,
  options: { ttlMs?: number; maxEntries?: number } = {},
): DecideLlmTrace {
  const ttlMs = options.ttlMs ?? 30_000;
  const maxEntries = options.maxEntries ?? 10_000;
  const kept = new Map<string, { at: number; decision: Promise<LlmTraceDecision> }>();
  return (record) => {
    const data = record.request.data_context;
    const key = `${record.tenantId}\u0000${data.jurisdiction}\u0000${data.classification}`;
    const hit = kept.get(key);
    if (hit && Date.now() - hit.at < ttlMs) return hit.decision;
    const context = {
      tenantId: record.tenantId,
      subject: 'orchestrator',
      roles: ['observer'],
      requestId: randomUUID(),
    };
    const decision = runWithTenant(context, () =>
      client.decideLlmTrace(
        {
          dataContext: {
            jurisdiction: data.jurisdiction,
            classification: PROTO_CLASSIFICATION[data.classification],
          },
        },
        { deadlineMs: 5_000 },
      ),
    ).then((answer): LlmTraceDecision =>
      answer.send
        ? {
            send: true,
            mask: answer.mask,
            target: {
              url: answer.langfuseUrl,
              publicKey: answer.publicKey,
              secretKey: answer.secretKey,
            },
          }
        : { send: false, reason: answer.reason },
    );
    kept.delete(key);
    kept.set(key, { at: Date.now(), decision });
    decision.catch(() => {
      if (kept.get(key)?.decision === decision) kept.delete(key);
    });
    // Oldest first out: the map is in insertion order.
    if (kept.size > maxEntries) kept.delete(kept.keys().next().value!);
    return decision;
  };
}
