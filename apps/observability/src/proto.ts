// Domain values <-> protobuf shapes, used by the gRPC API and by the events the adapters write.
// SliKind and AlertSeverity list their values in the domain's order, after UNSPECIFIED = 0.
import {
  DataClassificationSchema,
  enumByShortName,
  type DataClassification,
} from '@aion/contracts';
import type { JsonObject } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { SEVERITIES, type AlertRule, type Severity } from './core/alert-rules';
import type { PlatformDashboard } from './core/dashboard-panels';
import { SLI_KINDS, type SliKind, type Slo } from './core/model';
import { CLASSIFICATIONS, type Classification } from './core/llm-tracing';
import type { LlmTracingView } from './core/llm-tracing-service';
import type { TenantDashboard } from './core/tenant-dashboards';

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

/** AlertSeverity lists INFO, WARNING, CRITICAL after UNSPECIFIED = 0, as SEVERITIES does. */
export const severityNumber = (s: Severity): number => SEVERITIES.indexOf(s) + 1;
export const severityOf = (n: number): Severity | undefined =>
  n >= 1 ? SEVERITIES[n - 1] : undefined;

export const alertRuleProto = (r: AlertRule) => ({
  id: r.id,
  tenantId: r.tenantId,
  name: r.name,
  expression: r.expression,
  forDuration: r.forDuration,
  severity: severityNumber(r.severity),
  labels: r.labels,
  annotations: r.annotations,
  syncStatus: r.syncStatus,
  syncError: r.syncError,
  createdAt: timestampFromDate(r.createdAt),
  updatedAt: timestampFromDate(r.updatedAt),
});

/** A dashboard, platform (no tenant's) or a tenant's own, its model as JSON (Struct). */
export const dashboardProto = (d: PlatformDashboard | TenantDashboard) => ({
  id: 'uid' in d ? d.uid : d.id,
  tenantId: 'tenantId' in d ? d.tenantId : '',
  title: d.title,
  model: JSON.parse(JSON.stringify(d.model)) as JsonObject,
});

const classifications = enumByShortName<Classification, DataClassification>(
  DataClassificationSchema,
  CLASSIFICATIONS,
);
/** Data classification, domain -> wire. */
export const PROTO_CLASSIFICATION = classifications.toProto;
/** Data classification, wire -> domain (UNSPECIFIED has none). */
export const classificationOf = (c: DataClassification) => classifications.fromProto[c];

/** The wire names what may go unmasked (safe when empty); the domain keeps what is masked. */
export const llmTracingSettingsProto = (s: LlmTracingView) => ({
  enabled: s.enabled,
  langfuseUrl: s.langfuseUrl,
  langfuseJurisdiction: s.langfuseJurisdiction,
  publicKey: s.publicKey,
  secretKeyRef: s.secretKeyRef,
  secretKeySet: s.secretKeySet,
  unmaskedClassifications: CLASSIFICATIONS.filter((c) => !s.maskedClassifications.includes(c)).map(
    (c) => PROTO_CLASSIFICATION[c],
  ),
  ...(s.updatedAt ? { updatedAt: timestampFromDate(s.updatedAt) } : {}),
});
