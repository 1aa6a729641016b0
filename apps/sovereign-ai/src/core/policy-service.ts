import { AionError } from '@aion/errors';
import type { JurisdictionRegistry } from '@aion/jurisdictions';
import { STRATEGIES, type PageWindow, type RoutingPolicyInput } from './model';
import type { PolicyStore } from './ports';

const NAME = /^[A-Za-z0-9][A-Za-z0-9 ._-]{0,99}$/;

/** Routing policies: strict, preferred or fallback (an alias of preferred) over jurisdictions. */
export class PolicyService {
  constructor(
    private readonly policies: PolicyStore,
    private readonly jurisdictions: JurisdictionRegistry,
  ) {}

  list(window: PageWindow) {
    return this.policies.page(window);
  }

  async get(id: string) {
    const policy = await this.policies.get(id);
    if (!policy) throw new AionError('resource.not_found', `routing policy ${id} not found`);
    return policy;
  }

  create(input: RoutingPolicyInput) {
    return this.policies.create(this.validate(input));
  }

  async update(id: string, input: RoutingPolicyInput) {
    const updated = await this.policies.update(id, this.validate(input));
    if (!updated) throw new AionError('resource.not_found', `routing policy ${id} not found`);
    return updated;
  }

  async remove(id: string) {
    if (!(await this.policies.remove(id)))
      throw new AionError('resource.not_found', `routing policy ${id} not found`);
  }

  validate(input: RoutingPolicyInput): RoutingPolicyInput {
    const problems: { field: string; message: string }[] = [];
    const code = (value: string, field: string) => {
      try {
        return this.jurisdictions.normalize(value, field);
      } catch (err) {
        problems.push({ field, message: (err as Error).message });
        return value;
      }
    };
    if (!NAME.test(input.name))
      problems.push({
        field: 'name',
        message: 'required: letters, digits, space and ._- (at most 100)',
      });
    if (!(STRATEGIES as readonly string[]).includes(input.strategy))
      problems.push({ field: 'strategy', message: `one of ${STRATEGIES.join(', ')}` });
    const primary = code(input.primaryJurisdiction, 'primary_jurisdiction');
    const secondaries = input.secondaryJurisdictions.map((s, i) =>
      code(s, `secondary_jurisdictions[${i}]`),
    );
    if (input.strategy === 'strict' && secondaries.length)
      problems.push({
        field: 'secondary_jurisdictions',
        message: 'a strict policy has no secondaries',
      });
    if (secondaries.length > 20)
      problems.push({ field: 'secondary_jurisdictions', message: 'at most 20' });
    if (problems.length)
      throw AionError.validation(
        `the routing policy is invalid: ${problems.map((p) => `${p.field}: ${p.message}`).join('; ')}`,
        problems,
      );
    return { ...input, primaryJurisdiction: primary, secondaryJurisdictions: secondaries };
  }
}
