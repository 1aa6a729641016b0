import { AionError } from '@aion/errors';
import type { JurisdictionRegistry } from '@aion/jurisdictions';
import type { ModelStatus, SovereignModel } from './model';

/** PENDING -> APPROVED | REJECTED, APPROVED -> REVOKED; REJECTED and REVOKED are final. */
const NEXT: Record<ModelStatus, readonly ModelStatus[]> = {
  PENDING: ['APPROVED', 'REJECTED'],
  APPROVED: ['REVOKED'],
  REJECTED: [],
  REVOKED: [],
};

export type ModelDecision = 'APPROVED' | 'REJECTED' | 'REVOKED';

export function canMoveModel(from: ModelStatus, to: ModelStatus): boolean {
  return NEXT[from].includes(to);
}

export function assertModelTransition(model: SovereignModel, to: ModelDecision): void {
  if (!canMoveModel(model.status, to))
    throw new AionError(
      'state.conflict',
      `model ${model.id} is ${model.status}; it cannot become ${to} (allowed from ${model.status}: ${NEXT[model.status].join(', ') || 'none, the state is final'})`,
      {
        details: [
          { field: 'status', reason: 'illegal_transition', message: `${model.status} -> ${to}` },
        ],
      },
    );
}

export const MODEL_EVENTS = {
  APPROVED: 'model.approved',
  REJECTED: 'model.rejected',
  REVOKED: 'model.revoked',
} as const;

/** True when `model` names the same model as `ref` (its registry id, reference or name). */
export function namesModel(model: SovereignModel, ref: string): boolean {
  return model.id === ref || model.modelRef === ref || model.name === ref;
}

/**
 * The approval of `ref` (and `version`, when given) for processing in `jurisdiction`: an
 * APPROVED entry whose jurisdiction covers it. Entries for other versions or jurisdictions do
 * not count.
 */
export function approvalFor(
  models: readonly SovereignModel[],
  ref: string,
  version: string,
  jurisdiction: string,
  jurisdictions: JurisdictionRegistry,
): SovereignModel | undefined {
  return models.find(
    (m) =>
      m.status === 'APPROVED' &&
      namesModel(m, ref) &&
      (!version || !m.version || m.version === version) &&
      jurisdictions.covers([m.jurisdiction], jurisdiction),
  );
}
