import { LearningGovernanceService } from '@aion/contracts';
import { can } from '@aion/auth';
import { AionError } from '@aion/errors';
import type { GrpcServer } from '@aion/grpc';
import type { AgentRoleStatus, GovernanceService, PromptVersion } from '../core/governance';

const MAX_PROMPT = 100_000;

function bounded(value: string, field: string, max: number): string {
  if (value.length > max)
    throw AionError.validation(`${field} is longer than ${max} characters`, [
      { field, message: `at most ${max} characters` },
    ]);
  return value;
}

function inRange(value: number, field: string, max: number): number {
  if (value > max)
    throw AionError.validation(`${field} must be at most ${max}`, [{ field, message: `0-${max}` }]);
  return value;
}

const roleJson = (r: AgentRoleStatus) => ({
  name: r.name,
  description: r.description,
  dailyUpdateLimit: r.dailyUpdateLimit,
  cooldownSeconds: r.cooldownSeconds,
  requiresApproval: r.requiresApproval,
  activeVersion: r.activeVersion ?? 0,
  latestVersion: r.latestVersion,
  updatesToday: r.updatesToday,
  remainingToday: r.remainingToday,
  lastAutomaticUpdateAt: r.lastAutomaticUpdateAt?.toISOString() ?? '',
  nextUpdateAllowedAt: r.nextUpdateAllowedAt.toISOString(),
  pendingApprovals: r.pendingApprovals,
});

const versionJson = (v: PromptVersion) => ({
  role: v.role,
  version: v.version,
  prompt: v.prompt,
  source: v.source,
  status: v.status,
  reason: v.reason,
  proposedBy: v.proposedBy,
  decidedBy: v.decidedBy ?? '',
  decidedAt: v.decidedAt?.toISOString() ?? '',
  decisionNote: v.decisionNote ?? '',
  createdAt: v.createdAt.toISOString(),
});

/** aion.v1.LearningGovernanceService: parse, check, call, map back. */
export function registerGovernanceApi(server: GrpcServer, governance: GovernanceService): void {
  server.add(
    LearningGovernanceService,
    {
      upsertAgentRole: async (req) => ({
        role: roleJson(
          await governance.upsertRole(req.name, {
            description: bounded(req.description, 'description', 2000),
            dailyUpdateLimit: inRange(req.dailyUpdateLimit, 'daily_update_limit', 10_000),
            cooldownSeconds: inRange(req.cooldownSeconds, 'cooldown_seconds', 2_592_000),
            requiresApproval: req.requiresApproval,
          }),
        ),
      }),
      getGovernanceStatus: async () => ({ roles: (await governance.status()).map(roleJson) }),
      proposePromptUpdate: async (req, ctx) => {
        const source = req.source || 'automatic';
        if (source !== 'automatic' && source !== 'manual')
          throw AionError.validation('source must be automatic or manual', [
            { field: 'source', message: 'automatic or manual' },
          ]);
        if (source === 'manual' && !can(ctx.principal?.roles ?? [], 'escalations:manage'))
          throw new AionError(
            'auth.forbidden',
            'setting a prompt by hand needs escalations:manage; automatic updates do not',
          );
        if (!req.prompt.trim())
          throw AionError.validation('prompt is required', [
            { field: 'prompt', message: 'is required' },
          ]);
        return {
          version: versionJson(
            await governance.propose(req.role, {
              prompt: bounded(req.prompt, 'prompt', MAX_PROMPT),
              source,
              reason: bounded(req.reason, 'reason', 2000),
            }),
          ),
        };
      },
      decidePromptUpdate: async (req) => {
        if (req.version < 1)
          throw AionError.validation('version is required', [
            { field: 'version', message: 'a version number, 1 or more' },
          ]);
        return {
          version: versionJson(
            await governance.decide(req.role, req.version, {
              approve: req.approve,
              note: bounded(req.note, 'note', 2000),
            }),
          ),
        };
      },
      listPromptVersions: async (req) => ({
        versions: (await governance.versions(req.role)).map(versionJson),
      }),
    },
    {
      upsertAgentRole: 'operations:manage',
      getGovernanceStatus: 'platform:read',
      proposePromptUpdate: 'tasks:submit',
      decidePromptUpdate: 'escalations:manage',
      listPromptVersions: 'platform:read',
    },
  );
}
