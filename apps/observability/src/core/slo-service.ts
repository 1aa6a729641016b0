import { AionError } from '@aion/errors';
import { sloRuleFile } from './burn-rate';
import { burnRateStatus, type MetricsReader } from './burn-rate-status';
import type { PageWindow, SloInput } from './model';
import type { SloStore } from './ports';
import { resolveSlo } from './slo-spec';

/** SLO definitions of the calling tenant and the Prometheus rules generated from them. */
export class SloService {
  /** `changed` runs after every committed change (the rule sync). */
  constructor(
    private readonly slos: SloStore,
    private readonly changed: () => Promise<void> = async () => undefined,
    private readonly metrics?: MetricsReader,
  ) {}

  list(window: PageWindow) {
    return this.slos.page(window);
  }

  async get(id: string) {
    const slo = await this.slos.get(id);
    if (!slo) throw AionError.notFound('SLO', id);
    return slo;
  }

  async create(input: SloInput) {
    const slo = await this.slos.create(resolveSlo(input));
    await this.changed();
    return slo;
  }

  async update(id: string, input: SloInput) {
    const updated = await this.slos.update(id, resolveSlo(input));
    if (!updated) throw AionError.notFound('SLO', id);
    await this.changed();
    return updated;
  }

  async remove(id: string) {
    if (!(await this.slos.remove(id))) throw AionError.notFound('SLO', id);
    await this.changed();
  }

  /** Burn rates and budget from Prometheus (what the SLO's recording rules keep). */
  async burnRate(id: string) {
    const slo = await this.get(id);
    if (!this.metrics) throw new AionError('service.unavailable', 'no Prometheus is configured');
    return burnRateStatus(slo, this.metrics);
  }

  async rules(id: string) {
    return sloRuleFile(await this.get(id));
  }
}
