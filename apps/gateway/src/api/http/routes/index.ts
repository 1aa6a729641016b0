import type {
  LearningGovernanceService,
  OrchestratorAdminService,
  TaskOrchestrator,
} from '@aion/contracts';
import type { ApiKeyService } from '@aion/auth';
import type { AuditRecorder } from '@aion/events';
import type { ClientOf } from '@aion/grpc';
import type { JurisdictionRegistry } from '@aion/jurisdictions';
import type { SessionService } from '../../../core/sessions';
import type { Capacity } from '../../capacity';
import type { Route } from '../routing/route';
import { auditRoutes } from './audit';
import { authRoutes } from './auth';
import { budgetRoutes } from './budget';
import { jurisdictionSchema } from '../../wire-schemas';
import { governanceRoutes } from './governance';
import { moduleRoutes, type ModuleClient } from './modules';
import { observabilityRoutes, type ObservabilityClient } from './observability';
import { llmTracingRoutes } from './observability-llm-tracing';
import { openAiRoutes } from './openai';
import { pipelineRoutes, type PipelineClient } from './pipeline';
import { operationsRoutes } from './operations';
import { publicRoutes } from './public';
import { residencyRoutes } from './sovereign';
import { deploymentRoutes } from './sovereign-deployments';
import type { SovereignClient } from './sovereign-json';
import { sovereignSchemas } from './sovereign-schemas';
import { taskRoutes } from './tasks';

export interface RouteTableDeps {
  tasks: ClientOf<typeof TaskOrchestrator>;
  admin: ClientOf<typeof OrchestratorAdminService>;
  governance: ClientOf<typeof LearningGovernanceService>;
  sovereign: SovereignClient;
  observability: ObservabilityClient;
  pipeline: PipelineClient;
  modules: ModuleClient;
  keys: ApiKeyService;
  sessions: SessionService;
  audit: AuditRecorder;
  jurisdictions: JurisdictionRegistry;
  defaultJurisdiction: string;
  requestTimeoutMs: number;
  sseHeartbeatMs: number;
  /** Largest file POST /api/v1/pipeline/uploads takes. */
  pipelineUploadMaxBytes: number;
  streams: Capacity;
  /** The OpenAPI document, served by one of the routes (built from this very table). */
  document: () => unknown;
}

/** The gateway's whole REST surface: the one list both Express and OpenAPI are made from. */
export function routeTable(deps: RouteTableDeps): Route[] {
  const timeout = deps.requestTimeoutMs;
  const sovereign = sovereignSchemas(jurisdictionSchema(deps.jurisdictions));
  return [
    ...taskRoutes({
      tasks: deps.tasks,
      jurisdictions: deps.jurisdictions,
      requestTimeoutMs: timeout,
      heartbeatMs: deps.sseHeartbeatMs,
      streams: deps.streams,
    }),
    ...openAiRoutes({
      tasks: deps.tasks,
      admin: deps.admin,
      jurisdictions: deps.jurisdictions,
      defaultJurisdiction: deps.defaultJurisdiction,
      requestTimeoutMs: timeout,
    }),
    ...authRoutes({ sessions: deps.sessions, keys: deps.keys, audit: deps.audit }),
    ...budgetRoutes(deps.admin, timeout),
    ...operationsRoutes(deps.admin, timeout),
    ...auditRoutes(deps.admin, timeout),
    ...governanceRoutes(deps.governance, timeout),
    ...residencyRoutes(deps.sovereign, sovereign, timeout),
    ...deploymentRoutes(deps.sovereign, sovereign, deps.jurisdictions, timeout),
    ...observabilityRoutes(deps.observability, timeout),
    ...llmTracingRoutes(deps.observability, jurisdictionSchema(deps.jurisdictions), timeout),
    ...pipelineRoutes(deps.pipeline, timeout, {
      uploadMaxBytes: deps.pipelineUploadMaxBytes,
      heartbeatMs: deps.sseHeartbeatMs,
      streams: deps.streams,
    }),
    ...moduleRoutes(deps.modules, timeout),
    ...publicRoutes({
      sovereign: deps.sovereign,
      requestTimeoutMs: timeout,
      document: deps.document,
    }),
  ];
}
