import type { SovereignService } from '@aion/contracts';
import type { ClientOf } from '@aion/grpc';
import type {
  DataContext,
  RegisteredModel,
  ResidencyDecision,
  ResidencyPolicy,
} from '../../core/residency';
import { PROTO_CLASSIFICATION } from '../../proto';

const MODEL_STATUS = ['PENDING', 'APPROVED', 'REJECTED', 'REVOKED'] as const;

type Client = ClientOf<typeof SovereignService>;
type Model = Awaited<ReturnType<Client['enforceResidency']>>['allowedModels'][number];

const toModel = (m: Model): RegisteredModel => ({
  id: m.id,
  modelRef: m.modelRef,
  name: m.name,
  version: m.version,
  jurisdiction: m.jurisdiction,
  status: MODEL_STATUS[m.status - 1] ?? 'PENDING',
});

/**
 * Residency and model decisions from the sovereign-ai service, cached per tenant and data
 * context. Rule and model changes arrive as events and drop the tenant's answers at once; the TTL
 * only bounds how stale an answer can get if an event is lost. When the service cannot be reached
 * and nothing is cached, the task fails: sovereignty is never decided by default.
 */
export class SovereignResidency implements ResidencyPolicy {
  private readonly cache = new Map<
    string,
    Map<
      string,
      { value: Promise<ResidencyDecision>; expires: number; resolved?: ResidencyDecision }
    >
  >();

  constructor(
    private readonly client: Client,
    private readonly ttlMs: number,
    private readonly deadlineMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  decide(tenantId: string, data: DataContext): Promise<ResidencyDecision> {
    let tenant = this.cache.get(tenantId);
    if (!tenant) this.cache.set(tenantId, (tenant = new Map()));
    const key = `${data.jurisdiction}|${data.classification}`;
    const hit = tenant.get(key);
    if (hit && hit.expires > this.now()) return hit.value;
    const value = this.ask(data);
    const entry: {
      value: Promise<ResidencyDecision>;
      expires: number;
      resolved?: ResidencyDecision;
    } = { value, expires: this.now() + this.ttlMs };
    tenant.set(key, entry);
    value.then(
      (decision) => (entry.resolved = decision),
      () => {
        if (tenant.get(key) === entry) tenant.delete(key);
      },
    );
    return value;
  }

  cached(tenantId: string, data: DataContext): ResidencyDecision | undefined {
    const hit = this.cache.get(tenantId)?.get(`${data.jurisdiction}|${data.classification}`);
    return hit && hit.expires > this.now() ? hit.resolved : undefined;
  }

  invalidate(tenantId: string): void {
    this.cache.delete(tenantId);
  }

  private async ask(data: DataContext): Promise<ResidencyDecision> {
    const r = await this.client.enforceResidency(
      {
        dataContext: {
          jurisdiction: data.jurisdiction,
          classification: PROTO_CLASSIFICATION[data.classification],
        },
      },
      { deadlineMs: this.deadlineMs },
    );
    return {
      allowed:
        r.unrestricted || r.allowedJurisdictions.length === 0 ? 'any' : r.allowedJurisdictions,
      denied: r.deniedJurisdictions,
      rule: r.decidedByRule,
      reason: r.reason,
      models: [...r.allowedModels, ...r.blockedModels].map(toModel),
      approvalRequired: r.modelApprovalRequired,
    };
  }
}
