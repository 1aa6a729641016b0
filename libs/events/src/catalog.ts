import type { DescMessage } from '@bufbuild/protobuf';
import {
  AlertRuleChangedSchema,
  AlertRuleDeletedSchema,
  AlertStateChangedSchema,
  AuditRecordedSchema,
  DashboardChangedSchema,
  LlmTracingSettingsChangedSchema,
  DashboardDeletedSchema,
  ComplianceMappingCreatedSchema,
  DeploymentActiveSchema,
  DeploymentInitiatedSchema,
  DeploymentStatusChangedSchema,
  ModelStatusChangedSchema,
  PipelineJobCompletedSchema,
  PipelineJobCreatedSchema,
  PipelineJobFailedSchema,
  PipelineProfileCompletedSchema,
  PipelineUploadCreatedSchema,
  PipelineUploadDeletedSchema,
  ResidencyRuleCreatedSchema,
  ResidencyRuleDeletedSchema,
  ResidencyRuleUpdatedSchema,
  ResidencyViolationSchema,
  RoutingDecisionSchema,
  SloChangedSchema,
  SloDeletedSchema,
  TaskStateChangedSchema,
  UsageRecordedSchema,
} from '@aion/contracts';

/**
 * The one place that says which event type goes to which topic with which payload message.
 * Producers and consumers import it instead of restating topic names or shapes. The message key
 * is the tenant-scoped aggregate id (`keyOf`), so one aggregate's events stay in order.
 */
export const TOPICS = {
  sovereignResidency: 'sovereign.residency',
  sovereignDeployment: 'sovereign.deployment',
  sovereignRouting: 'sovereign.routing',
  sovereignCompliance: 'sovereign.compliance',
  sovereignRegistry: 'sovereign.registry',
  pipelineJobCreated: 'pipeline.job.created',
  pipelineJobCompleted: 'pipeline.job.completed',
  pipelineJobFailed: 'pipeline.job.failed',
  pipelineProfileCompleted: 'pipeline.profile.completed',
  pipelineUploadCreated: 'pipeline.upload.created',
  pipelineUploadDeleted: 'pipeline.upload.deleted',
  observabilityEvents: 'observability.events',
  tasksLifecycle: 'tasks.lifecycle',
  usageBilling: 'usage.billing',
  auditActivity: 'audit.activity',
} as const;

export type Topic = (typeof TOPICS)[keyof typeof TOPICS];

/**
 * Events that change a tenant's residency rules or model approvals: caches of those clear on
 * them. A violation records a decision and changes nothing.
 */
export const SOVEREIGN_CHANGES = {
  topics: [TOPICS.sovereignResidency, TOPICS.sovereignRegistry],
  ignore: ['residency.violation'],
};

export const DLQ_SUFFIX = '.dlq';
export const dlqTopicOf = (topic: string): string => `${topic}${DLQ_SUFFIX}`;

interface CatalogEntry<S extends DescMessage = DescMessage> {
  topic: Topic;
  schema: S;
}

function entry<S extends DescMessage>(topic: Topic, schema: S): CatalogEntry<S> {
  return { topic, schema };
}

export const EVENT_CATALOG = {
  'residency.violation': entry(TOPICS.sovereignResidency, ResidencyViolationSchema),
  'residency.rule_created': entry(TOPICS.sovereignResidency, ResidencyRuleCreatedSchema),
  'residency.rule_updated': entry(TOPICS.sovereignResidency, ResidencyRuleUpdatedSchema),
  'residency.rule_deleted': entry(TOPICS.sovereignResidency, ResidencyRuleDeletedSchema),
  'deployment.initiated': entry(TOPICS.sovereignDeployment, DeploymentInitiatedSchema),
  'deployment.deploying': entry(TOPICS.sovereignDeployment, DeploymentStatusChangedSchema),
  'deployment.active': entry(TOPICS.sovereignDeployment, DeploymentActiveSchema),
  'deployment.failed': entry(TOPICS.sovereignDeployment, DeploymentStatusChangedSchema),
  'deployment.decommissioned': entry(TOPICS.sovereignDeployment, DeploymentStatusChangedSchema),
  'routing.decision': entry(TOPICS.sovereignRouting, RoutingDecisionSchema),
  'compliance.mapping_created': entry(TOPICS.sovereignCompliance, ComplianceMappingCreatedSchema),
  'model.registered': entry(TOPICS.sovereignRegistry, ModelStatusChangedSchema),
  'model.approved': entry(TOPICS.sovereignRegistry, ModelStatusChangedSchema),
  'model.rejected': entry(TOPICS.sovereignRegistry, ModelStatusChangedSchema),
  'model.revoked': entry(TOPICS.sovereignRegistry, ModelStatusChangedSchema),
  'pipeline.job.created': entry(TOPICS.pipelineJobCreated, PipelineJobCreatedSchema),
  'pipeline.job.completed': entry(TOPICS.pipelineJobCompleted, PipelineJobCompletedSchema),
  'pipeline.job.failed': entry(TOPICS.pipelineJobFailed, PipelineJobFailedSchema),
  'pipeline.profile.completed': entry(
    TOPICS.pipelineProfileCompleted,
    PipelineProfileCompletedSchema,
  ),
  'pipeline.upload.created': entry(TOPICS.pipelineUploadCreated, PipelineUploadCreatedSchema),
  'pipeline.upload.deleted': entry(TOPICS.pipelineUploadDeleted, PipelineUploadDeletedSchema),
  'slo.created': entry(TOPICS.observabilityEvents, SloChangedSchema),
  'slo.updated': entry(TOPICS.observabilityEvents, SloChangedSchema),
  'slo.deleted': entry(TOPICS.observabilityEvents, SloDeletedSchema),
  'alert_rule.created': entry(TOPICS.observabilityEvents, AlertRuleChangedSchema),
  'alert_rule.updated': entry(TOPICS.observabilityEvents, AlertRuleChangedSchema),
  'alert_rule.deleted': entry(TOPICS.observabilityEvents, AlertRuleDeletedSchema),
  'dashboard.created': entry(TOPICS.observabilityEvents, DashboardChangedSchema),
  'dashboard.updated': entry(TOPICS.observabilityEvents, DashboardChangedSchema),
  'dashboard.deleted': entry(TOPICS.observabilityEvents, DashboardDeletedSchema),
  'llm_tracing.updated': entry(TOPICS.observabilityEvents, LlmTracingSettingsChangedSchema),
  'alert.fired': entry(TOPICS.observabilityEvents, AlertStateChangedSchema),
  'alert.resolved': entry(TOPICS.observabilityEvents, AlertStateChangedSchema),
  'task.state_changed': entry(TOPICS.tasksLifecycle, TaskStateChangedSchema),
  'usage.recorded': entry(TOPICS.usageBilling, UsageRecordedSchema),
  'audit.recorded': entry(TOPICS.auditActivity, AuditRecordedSchema),
} as const;

export type EventType = keyof typeof EVENT_CATALOG;
export type PayloadSchemaOf<T extends EventType> = (typeof EVENT_CATALOG)[T]['schema'];

export function isEventType(type: string): type is EventType {
  return Object.hasOwn(EVENT_CATALOG, type);
}

export function topicOf(type: EventType): Topic {
  return EVENT_CATALOG[type].topic;
}

/** Every topic, with its dead-letter twin, for provisioning. */
export function allTopics(): string[] {
  const topics = Object.values(TOPICS);
  return [...topics, ...topics.map(dlqTopicOf)];
}
