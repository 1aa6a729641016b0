import type { ServiceName } from '@aion/config';

export const SLI_KINDS = ['availability', 'latency', 'error_rate'] as const;
export type SliKind = (typeof SLI_KINDS)[number];

/** Bounds of an SLO's window: the ticket's 3-day window must fit in it more than twice. */
export const MIN_WINDOW_DAYS = 7;
export const MAX_WINDOW_DAYS = 90;
export const DEFAULT_WINDOW_DAYS = 30;

/** What a caller states about an SLO; everything else is derived. */
export interface SloInput {
  name: string;
  service: string;
  sli: SliKind;
  /** An emitted metric; empty: the service's own request counter or latency histogram. */
  metric: string;
  /** Equality matchers narrowing the metric (label -> value). */
  matchers: Record<string, string>;
  /** Latency SLIs: a request is good when it took at most this long. */
  latencyThresholdMs: number;
  /** Target ratio of good events, in (0, 1). */
  objective: number;
  windowDays: number;
  description: string;
}

/** An input that passed validation, with the metric chosen and the selectors derived. */
export interface ResolvedSlo extends SloInput {
  service: ServiceName;
  goodSelector: string;
  totalSelector: string;
}

export interface Slo extends ResolvedSlo {
  id: string;
  tenantId: string;
  createdAt: Date;
  updatedAt: Date;
}

export interface PageWindow {
  offset: number;
  limit: number;
}

export interface Page<T> {
  items: T[];
  total: number;
}
