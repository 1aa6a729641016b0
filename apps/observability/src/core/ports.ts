import type { Page, PageWindow, ResolvedSlo, Slo } from './model';

/** SLO definitions of the calling tenant; every change publishes its event with it. */
export interface SloStore {
  page(window: PageWindow): Promise<Page<Slo>>;
  get(id: string): Promise<Slo | undefined>;
  /** Throws state.conflict when the tenant already has an SLO of that name. */
  create(slo: ResolvedSlo): Promise<Slo>;
  /** Undefined when there is no such SLO. */
  update(id: string, slo: ResolvedSlo): Promise<Slo | undefined>;
  remove(id: string): Promise<boolean>;
}
