import {
  DataClassification,
  DataClassificationSchema,
  enumByShortName,
  type SovereignService,
} from '@aion/contracts';
import type { ClientOf } from '@aion/grpc';
import type { DataContext, ResidencyDecision, ResidencyPort } from '../../core/residency';

/** The classifications a data context names (core/residency.ts), to the wire's enum. */
const CLASSIFICATION: Partial<Record<string, DataClassification>> = enumByShortName<
  string,
  DataClassification
>(DataClassificationSchema, ['none', 'pii', 'financial', 'health', 'biometric']).toProto;

/** Residency decisions from sovereign-ai's EnforceResidency, for one candidate jurisdiction. */
export class SovereignResidency implements ResidencyPort {
  constructor(
    private readonly client: ClientOf<typeof SovereignService>,
    private readonly deadlineMs: number,
  ) {}

  async decide(data: DataContext, where: string): Promise<ResidencyDecision> {
    const r = await this.client.enforceResidency(
      {
        dataContext: {
          jurisdiction: data.jurisdiction,
          classification: CLASSIFICATION[data.classification] ?? DataClassification.NONE,
        },
        candidateJurisdictions: [where],
      },
      { deadlineMs: this.deadlineMs },
    );
    const allowed = r.allowed && (r.unrestricted || r.allowedJurisdictions.includes(where));
    return { allowed, rule: r.decidedByRule, reason: r.reason };
  }
}
