import type { SovereignService } from '@aion/contracts';
import type { ClientOf } from '@aion/grpc';
import type { DataContext, ResidencyPort } from '../../core/llm-tracing';
import { PROTO_CLASSIFICATION } from '../../proto';

/** Residency decisions from sovereign-ai's EnforceResidency, for one target jurisdiction. */
export class SovereignResidency implements ResidencyPort {
  constructor(
    private readonly client: ClientOf<typeof SovereignService>,
    private readonly deadlineMs: number,
  ) {}

  async decide(data: DataContext, target: string) {
    const r = await this.client.enforceResidency(
      {
        dataContext: {
          jurisdiction: data.jurisdiction,
          classification: PROTO_CLASSIFICATION[data.classification],
        },
        candidateJurisdictions: [target],
      },
      { deadlineMs: this.deadlineMs },
    );
    const allowed = r.allowed && (r.unrestricted || r.allowedJurisdictions.includes(target));
    return { allowed, rule: r.decidedByRule, reason: r.reason };
  }
}
