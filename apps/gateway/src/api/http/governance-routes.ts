import { Router } from 'express';
import type { LearningGovernanceService } from '@aion/contracts';
import { requirePermission } from '@aion/auth';
import type { ClientOf } from '@aion/grpc';
import {
  AgentRoleParam,
  AgentRoleRequest,
  PromptDecisionRequest,
  PromptUpdateRequest,
  PromptVersionParam,
} from './schemas';
import { parse } from './validate';

type Client = ClientOf<typeof LearningGovernanceService>;
type Role = NonNullable<Awaited<ReturnType<Client['upsertAgentRole']>>['role']>;
type Version = NonNullable<Awaited<ReturnType<Client['proposePromptUpdate']>>['version']>;

const roleJson = (r: Role | undefined) =>
  r && {
    role: r.name,
    description: r.description,
    limits: {
      daily_update_limit: r.dailyUpdateLimit,
      cooldown_seconds: r.cooldownSeconds,
      requires_approval: r.requiresApproval,
    },
    usage: {
      updates_today: r.updatesToday,
      remaining_today: r.remainingToday,
      last_automatic_update_at: r.lastAutomaticUpdateAt || null,
      next_update_allowed_at: r.nextUpdateAllowedAt,
      pending_approvals: r.pendingApprovals,
    },
    active_version: r.activeVersion || null,
    latest_version: r.latestVersion,
  };

const versionJson = (v: Version | undefined) =>
  v && {
    role: v.role,
    version: v.version,
    prompt: v.prompt,
    source: v.source,
    status: v.status,
    reason: v.reason,
    proposed_by: v.proposedBy,
    decided_by: v.decidedBy || null,
    decided_at: v.decidedAt || null,
    decision_note: v.decisionNote || null,
    created_at: v.createdAt,
  };

/** /api/v1/governance: agent roles, prompt versions and the limits on learning. */
export function governanceRoutes(governance: Client, requestTimeoutMs: number): Router {
  const router = Router();
  const options = { deadlineMs: requestTimeoutMs };

  router.get(
    '/api/v1/governance/status',
    requirePermission('observability:read'),
    async (_req, res) => {
      const { roles } = await governance.getGovernanceStatus({}, options);
      res.json({ roles: roles.map(roleJson) });
    },
  );
  router.put(
    '/api/v1/governance/roles/:role',
    requirePermission('operations:manage'),
    async (req, res) => {
      const { role } = parse(AgentRoleParam, req.params, 'path');
      const body = parse(AgentRoleRequest, req.body, 'agent role');
      const { role: saved } = await governance.upsertAgentRole(
        {
          name: role,
          description: body.description,
          dailyUpdateLimit: body.daily_update_limit,
          cooldownSeconds: body.cooldown_seconds,
          requiresApproval: body.requires_approval,
        },
        options,
      );
      res.json(roleJson(saved));
    },
  );
  router.get(
    '/api/v1/governance/roles/:role/prompts',
    requirePermission('observability:read'),
    async (req, res) => {
      const { role } = parse(AgentRoleParam, req.params, 'path');
      const { versions } = await governance.listPromptVersions({ role }, options);
      res.json({ data: versions.map(versionJson) });
    },
  );
  router.post(
    '/api/v1/governance/roles/:role/prompts',
    requirePermission('tasks:submit'),
    async (req, res) => {
      const { role } = parse(AgentRoleParam, req.params, 'path');
      const body = parse(PromptUpdateRequest, req.body, 'prompt update');
      const { version } = await governance.proposePromptUpdate(
        { role, prompt: body.prompt, source: body.source, reason: body.reason },
        options,
      );
      res.status(201).json(versionJson(version));
    },
  );
  for (const decision of ['approve', 'reject'] as const)
    router.post(
      `/api/v1/governance/roles/:role/prompts/:version/${decision}`,
      requirePermission('models:approve'),
      async (req, res) => {
        const { role, version } = parse(PromptVersionParam, req.params, 'path');
        const { note } = parse(PromptDecisionRequest, req.body ?? {}, 'decision');
        const decided = await governance.decidePromptUpdate(
          { role, version, approve: decision === 'approve', note },
          options,
        );
        res.json(versionJson(decided.version));
      },
    );
  return router;
}
