// Domain values <-> protobuf shapes, used by the gRPC API and by the events the adapters write.
// SliKind lists its values in the order of SLI_KINDS, after UNSPECIFIED = 0.
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { SLI_KINDS, type SliKind, type Slo } from './core/model';

export const sliNumber = (sli: SliKind): number => SLI_KINDS.indexOf(sli) + 1;

/** The domain value of a wire SliKind; undefined for UNSPECIFIED or unknown numbers. */
export const sliOf = (n: number): SliKind | undefined => (n >= 1 ? SLI_KINDS[n - 1] : undefined);

export const sloProto = (s: Slo) => ({
  id: s.id,
  tenantId: s.tenantId,
  name: s.name,
  service: s.service,
  sli: sliNumber(s.sli),
  objective: s.objective,
  latencyThresholdMs: s.latencyThresholdMs,
  windowDays: s.windowDays,
  metric: s.metric,
  matchers: s.matchers,
  goodSelector: s.goodSelector,
  totalSelector: s.totalSelector,
  description: s.description,
  createdAt: timestampFromDate(s.createdAt),
  updatedAt: timestampFromDate(s.updatedAt),
});
