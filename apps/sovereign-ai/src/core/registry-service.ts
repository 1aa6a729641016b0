import { can } from '@aion/auth';
import { AionError } from '@aion/errors';
import type { JurisdictionRegistry } from '@aion/jurisdictions';
import { requireTenant } from '@aion/tenancy';
import type { ModelStatus, PageWindow, SovereignModel } from './model';
import type { ModelStore } from './ports';

const REF = /^[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,199}$/;

export interface RegistrySettings {
  /**
   * The two-person rule: the person that registered a model may not approve it, with any of
   * their credentials. People are compared by the principal's owner (`user:<id>` for a login and
   * the keys it made, `bootstrap`, `idp:<issuer>:<sub>`), not by the credential's subject.
   */
  twoPersonApproval: boolean;
}

/**
 * The sovereign model registry: a model is approved per jurisdiction (PENDING -> APPROVED or
 * REJECTED, APPROVED -> REVOKED). Decisions need admin or operator (models:approve), and under
 * the two-person rule an approval needs a person other than the registrant; every
 * transition is an event on sovereign.registry, which also clears routing caches everywhere.
 */
export class RegistryService {
  constructor(
    private readonly models: ModelStore,
    private readonly jurisdictions: JurisdictionRegistry,
    private readonly onChange: (tenantId: string) => void,
    private readonly settings: RegistrySettings = { twoPersonApproval: true },
  ) {}

  async register(input: { modelRef: string; name: string; version: string; jurisdiction: string }) {
    const problems: { field: string; message: string }[] = [];
    if (!REF.test(input.modelRef))
      problems.push({
        field: 'model_ref',
        message: 'required: letters, digits and ._:/@+- (at most 200)',
      });
    if (input.name.length > 200)
      problems.push({ field: 'name', message: 'at most 200 characters' });
    if (input.version && !REF.test(input.version))
      problems.push({ field: 'version', message: 'letters, digits and ._:/@+- (at most 200)' });
    let jurisdiction = input.jurisdiction;
    try {
      jurisdiction = this.jurisdictions.normalize(input.jurisdiction, 'jurisdiction');
    } catch (err) {
      problems.push({ field: 'jurisdiction', message: (err as Error).message });
    }
    if (problems.length)
      throw AionError.validation(
        `the model is invalid: ${problems.map((p) => `${p.field}: ${p.message}`).join('; ')}`,
        problems,
      );
    const model = await this.models.register({
      modelRef: input.modelRef,
      name: input.name || input.modelRef,
      version: input.version,
      jurisdiction,
    });
    this.onChange(model.tenantId);
    return model;
  }

  list(window: PageWindow, filter: { jurisdiction?: string; status?: ModelStatus }) {
    return this.models.page(window, {
      ...filter,
      ...(filter.jurisdiction
        ? { jurisdiction: this.jurisdictions.normalize(filter.jurisdiction, 'jurisdiction') }
        : {}),
    });
  }

  async get(id: string): Promise<SovereignModel> {
    const model = await this.models.get(id);
    if (!model) throw new AionError('resource.not_found', `model ${id} not found`);
    return model;
  }

  async decide(id: string, to: 'APPROVED' | 'REJECTED' | 'REVOKED', reason: string) {
    const { roles, subject, owner, tenantId } = requireTenant();
    // Checked here as well as at the gateway: a service must not trust its caller's checks.
    if (!can(roles, 'models:approve'))
      throw new AionError(
        'auth.forbidden',
        'approving, rejecting or revoking a model needs admin or operator',
      );
    if (reason.length > 2000)
      throw AionError.validation('reason is longer than 2000 characters', [
        { field: 'reason', message: 'at most 2000 characters' },
      ]);
    if (to === 'APPROVED' && this.settings.twoPersonApproval) {
      // The registrant never changes after the insert, so reading it outside decide's lock is safe.
      const { registeredByOwner } = await this.get(id);
      if (registeredByOwner !== '' && registeredByOwner === owner)
        throw new AionError(
          'auth.forbidden',
          `two-person rule: ${owner} registered model ${id} and may not approve it with any credential (this one is ${subject}); another person with models:approve must (AION_SOVEREIGN_MODEL_APPROVAL_TWO_PERSON)`,
          {
            details: [
              {
                field: 'id',
                reason: 'two_person_rule',
                message: 'the person that registered a model may not approve it',
              },
            ],
          },
        );
    }
    const model = await this.models.decide(id, to, subject, reason);
    this.onChange(tenantId);
    return model;
  }
}
