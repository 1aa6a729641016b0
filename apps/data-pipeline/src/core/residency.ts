import { AionError } from '@aion/errors';

export interface DataContext {
  jurisdiction: string;
  /** none, pii, financial, health, biometric */
  classification: string;
}

export interface ResidencyDecision {
  allowed: boolean;
  /** The rule that decided (or "default:<jurisdiction>"). */
  rule: string;
  reason: string;
}

/** Asks the sovereignty service whether data of a context may be processed in a jurisdiction. */
export interface ResidencyPort {
  decide(data: DataContext, processingJurisdiction: string): Promise<ResidencyDecision>;
}

/**
 * Refuses a job whose data may not be processed and stored where this pipeline runs, naming the
 * rule that decided. An unreachable sovereignty service refuses too: never decided by default.
 */
export async function checkResidency(
  port: ResidencyPort,
  data: DataContext,
  processingJurisdiction: string,
): Promise<void> {
  const d = await port.decide(data, processingJurisdiction);
  if (d.allowed) return;
  throw new AionError(
    'sovereign.residency_violation',
    `data of ${data.jurisdiction} may not be processed in ${processingJurisdiction}: ${d.reason || 'refused'} (rule ${d.rule})`,
    {
      details: [
        {
          field: 'data_context.jurisdiction',
          reason: d.rule,
          message: d.reason || 'refused by residency rules',
        },
      ],
    },
  );
}
