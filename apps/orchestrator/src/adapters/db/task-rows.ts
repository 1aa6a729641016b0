import type { TaskEngine, TaskRecord } from '../../core/ports';
import type { TaskStatus } from '../../core/task-state';
import type { tasks } from './schema';

export type TaskRow = typeof tasks.$inferSelect;

export function toRecord(row: TaskRow): TaskRecord {
  return {
    tenantId: row.tenantId,
    id: row.id,
    projectId: row.projectId,
    subject: row.subject,
    intent: row.intent,
    status: row.status as TaskStatus,
    request: row.request as TaskRecord['request'],
    requestHash: row.requestHash,
    engine: row.engineName
      ? {
          route: (row.engineRoute ?? '') as TaskEngine['route'],
          name: row.engineName,
          chosenBy: row.chosenBy as 'ai-router' | 'policy-override',
          reason: row.reason ?? '',
        }
      : undefined,
    result: row.result ?? undefined,
    error: (row.error as TaskRecord['error']) ?? undefined,
    usage:
      row.latencyMs === null
        ? undefined
        : {
            latencyMs: row.latencyMs,
            inputTokens: row.inputTokens ?? 0,
            outputTokens: row.outputTokens ?? 0,
            costUsd: row.costUsd ?? 0,
          },
    sovereignty: (row.sovereignty as TaskRecord['sovereignty']) ?? undefined,
    receipt:
      row.receiptJson && row.receiptJws
        ? { json: row.receiptJson, jws: row.receiptJws }
        : undefined,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}

/** A row of `orc_tasks` as a raw statement returns it (column names, numeric as text). */
export interface RawTaskRow {
  tenant_id: string;
  id: string;
  project_id: string;
  subject: string;
  intent: string;
  status: string;
  request: unknown;
  request_hash: string;
  engine_route: string | null;
  engine_name: string | null;
  chosen_by: string | null;
  reason: string | null;
  result: unknown;
  error: unknown;
  latency_ms: number | null;
  input_tokens: number | null;
  output_tokens: number | null;
  cost_usd: string | number | null;
  sovereignty: unknown;
  receipt_json: string | null;
  receipt_jws: string | null;
  replica_id: string | null;
  created_at: Date | string;
  updated_at: Date | string;
}

export function fromRaw(raw: RawTaskRow): TaskRow {
  return {
    tenantId: raw.tenant_id,
    id: raw.id,
    projectId: raw.project_id,
    subject: raw.subject,
    intent: raw.intent,
    status: raw.status,
    request: raw.request,
    requestHash: raw.request_hash,
    engineRoute: raw.engine_route,
    engineName: raw.engine_name,
    chosenBy: raw.chosen_by,
    reason: raw.reason,
    result: raw.result,
    error: raw.error,
    latencyMs: raw.latency_ms,
    inputTokens: raw.input_tokens,
    outputTokens: raw.output_tokens,
    costUsd: raw.cost_usd === null ? null : Number(raw.cost_usd),
    sovereignty: raw.sovereignty,
    receiptJson: raw.receipt_json,
    receiptJws: raw.receipt_jws,
    replicaId: raw.replica_id,
    createdAt: new Date(raw.created_at),
    updatedAt: new Date(raw.updated_at),
  };
}
