import { AionError } from '@aion/errors';
import { canonicalJson, sha256Hex, type SovereigntyReceipt } from '@aion/receipts';
import type {
  ReceiptSigner,
  SovereigntyFacts,
  TaskRecord,
  TaskRepository,
  TaskRequestDoc,
} from './ports';
import { modelRefsOf } from './residency';
import type { Candidate } from './router';
import { isTerminal } from './task-state';

/** What a task's receipt will attest about the engine it starts on. */
export function sovereigntyFacts(
  candidate: Candidate,
  rule: string,
  request: TaskRequestDoc,
): SovereigntyFacts {
  const { engine, approval } = candidate;
  const refs = modelRefsOf(
    engine,
    typeof request.params['model'] === 'string' ? request.params['model'] : undefined,
  );
  return {
    rule,
    engine: engine.name,
    jurisdiction: engine.jurisdiction,
    region: engine.region,
    model: {
      id: refs[refs.length - 1]!,
      version: approval?.version ?? '',
      approval: approval
        ? { registry_id: approval.id, status: approval.status, jurisdiction: approval.jurisdiction }
        : 'unregistered',
    },
    started_at: new Date().toISOString(),
  };
}

/** Facts of a task refused before any engine saw its data. */
export const refusedBy = (rule: string): SovereigntyFacts => ({
  rule,
  engine: '',
  jurisdiction: '',
  region: '',
  model: { id: '', version: '', approval: 'unregistered' },
  started_at: '',
});

/** The receipt of a finished task; a task no engine ran says so (empty processed_in). */
export function buildReceipt(record: TaskRecord, issuedAt: Date): SovereigntyReceipt {
  const facts = record.sovereignty;
  return {
    receipt_version: 1,
    task_id: record.id,
    tenant_id: record.tenantId,
    intent: record.intent,
    status: record.status,
    data: {
      jurisdiction: record.request.data_context.jurisdiction,
      classification: record.request.data_context.classification,
    },
    processed_in: {
      jurisdiction: facts?.jurisdiction ?? '',
      region: facts?.region ?? '',
      deployment: facts?.engine ?? '',
      engine: facts?.engine ?? '',
    },
    model: facts?.model ?? { id: '', version: '', approval: 'unregistered' },
    allowed_by_rule: facts?.rule ?? '',
    timestamps: {
      submitted_at: record.createdAt.toISOString(),
      started_at: facts?.started_at ?? '',
      finished_at: record.updatedAt.toISOString(),
      issued_at: issuedAt.toISOString(),
    },
    input_sha256: sha256Hex(record.request.params),
    output_sha256: sha256Hex(record.result ?? null),
  };
}

/**
 * Signed sovereignty receipts. A finished task's receipt is built from what was recorded while it
 * ran, signed once by sovereign-ai (which holds the keys) and stored, so every later read returns
 * the same bytes.
 */
export class ReceiptService {
  constructor(
    private readonly repository: TaskRepository,
    private readonly signer: ReceiptSigner,
  ) {}

  async receipt(id: string): Promise<{ json: string; jws: string }> {
    // Read from the database, not a cache: the receipt may have been stored by another replica.
    const record = await this.repository.get(id);
    if (!record) throw AionError.notFound('task', id);
    if (record.receipt) return record.receipt;
    if (!isTerminal(record.status))
      throw AionError.conflict(
        `task ${id} is ${record.status}; its receipt is issued when it finishes`,
      );
    const json = canonicalJson(buildReceipt(record, new Date()));
    const jws = await this.signer.sign(json);
    return this.repository.saveReceipt(id, { json, jws });
  }
}
