import * as z from 'zod/v4';
import type { LearningGovernanceService } from '@aion/contracts';
import type { ClientOf } from '@aion/grpc';
import { route, type Route } from '../routing/route';
import { queryInt } from '../../wire-schemas';

const RoleName = z.string().regex(/^[a-z][a-z0-9_-]{0,62}$/);
const RolePath = z.strictObject({ role: RoleName });
const VersionPath = z.strictObject({
  role: RoleName,
  version: queryInt(1, 2_147_483_647),
});
export const AgentRoleRequest = z.strictObject({
  description: z.string().max(2000).default(''),
  daily_update_limit: z.int().min(0).max(10_000).describe('Automatic prompt updates per UTC day'),
  cooldown_seconds: z
    .int()
    .min(0)
    .max(2_592_000)
    .describe('Minimum time between automatic updates'),
  requires_approval: z.boolean().default(false),
});
export const PromptUpdateRequest = z.strictObject({
  prompt: z
    .string()
    .max(100_000)
    // Not blank, and no U+0000 (which the document's pattern must say, as it replaces the default).
    // eslint-disable-next-line no-control-regex
    .regex(/^[^\u0000]*[^\s\u0000][^\u0000]*$/, 'must not be blank'),
  source: z.enum(['automatic', 'manual']).default('automatic'),
  reason: z.string().max(2000).default(''),
});
const PromptDecisionRequest = z.strictObject({ note: z.string().max(2000).default('') });

const AgentRole = z.object({
  role: z.string(),
  description: z.string(),
  limits: z.object({
    daily_update_limit: z.int(),
    cooldown_seconds: z.int(),
    requires_approval: z.boolean(),
  }),
  usage: z.object({
    updates_today: z.int(),
    remaining_today: z.int(),
    last_automatic_update_at: z.string().nullable(),
    next_update_allowed_at: z.string(),
    pending_approvals: z.int(),
  }),
  active_version: z.int().nullable(),
  latest_version: z.int(),
});
const PromptVersion = z.object({
  role: z.string(),
  version: z.int(),
  prompt: z.string(),
  source: z.string(),
  status: z.string().describe('ACTIVE, PENDING_APPROVAL, REJECTED or SUPERSEDED'),
  reason: z.string(),
  proposed_by: z.string(),
  decided_by: z.string().nullable(),
  decided_at: z.string().nullable(),
  decision_note: z.string().nullable(),
  created_at: z.string(),
});

type Client = ClientOf<typeof LearningGovernanceService>;
type RoleMessage = Awaited<ReturnType<Client['upsertAgentRole']>>['role'];
type VersionMessage = Awaited<ReturnType<Client['proposePromptUpdate']>>['version'];

const roleJson = (r: RoleMessage) => ({
  role: r?.name ?? '',
  description: r?.description ?? '',
  limits: {
    daily_update_limit: r?.dailyUpdateLimit ?? 0,
    cooldown_seconds: r?.cooldownSeconds ?? 0,
    requires_approval: r?.requiresApproval ?? false,
  },
  usage: {
    updates_today: r?.updatesToday ?? 0,
    remaining_today: r?.remainingToday ?? 0,
    last_automatic_update_at: r?.lastAutomaticUpdateAt || null,
    next_update_allowed_at: r?.nextUpdateAllowedAt ?? '',
    pending_approvals: r?.pendingApprovals ?? 0,
  },
  active_version: r?.activeVersion || null,
  latest_version: r?.latestVersion ?? 0,
});
const versionJson = (v: VersionMessage) => ({
  role: v?.role ?? '',
  version: v?.version ?? 0,
  prompt: v?.prompt ?? '',
  source: v?.source ?? '',
  status: v?.status ?? '',
  reason: v?.reason ?? '',
  proposed_by: v?.proposedBy ?? '',
  decided_by: v?.decidedBy || null,
  decided_at: v?.decidedAt || null,
  decision_note: v?.decisionNote || null,
  created_at: v?.createdAt ?? '',
});

/** /api/v1/governance: agent roles, prompt versions and the limits on learning. */
export function governanceRoutes(governance: Client, requestTimeoutMs: number): Route[] {
  const o = { deadlineMs: requestTimeoutMs };
  const decide = (decision: 'approve' | 'reject') =>
    route({
      method: 'post',
      path: `/api/v1/governance/roles/{role}/prompts/{version}/${decision}`,
      operationId: `${decision}PromptVersion`,
      summary: `${decision === 'approve' ? 'Approve' : 'Reject'} a prompt version waiting for approval`,
      tag: 'governance',
      access: 'escalations:manage',
      request: { path: VersionPath, body: PromptDecisionRequest, bodyOptional: true },
      responses: { 200: { description: 'The version', schema: PromptVersion } },
      errors: [404, 409],
      async handle({ path, body }) {
        const { version } = await governance.decidePromptUpdate(
          {
            role: path.role,
            version: path.version,
            approve: decision === 'approve',
            note: body.note,
          },
          o,
        );
        return { status: 200, body: versionJson(version) };
      },
    });
  return [
    route({
      method: 'get',
      path: '/api/v1/governance/status',
      operationId: 'getGovernanceStatus',
      summary: "Each agent role's limits and today's usage",
      tag: 'governance',
      access: 'platform:read',
      request: {},
      responses: { 200: { description: 'Roles', schema: z.object({ roles: z.array(AgentRole) }) } },
      async handle() {
        const { roles } = await governance.getGovernanceStatus({}, o);
        return { status: 200, body: { roles: roles.map(roleJson) } };
      },
    }),
    route({
      method: 'put',
      path: '/api/v1/governance/roles/{role}',
      operationId: 'putAgentRole',
      summary: 'Create or change an agent role and its learning limits',
      tag: 'governance',
      access: 'operations:manage',
      request: { path: RolePath, body: AgentRoleRequest },
      responses: { 200: { description: 'The role', schema: AgentRole } },
      links: {
        ListPrompts: {
          operationId: 'listPromptVersions',
          parameters: { role: '$response.body#/role' },
        },
        ProposePrompt: {
          operationId: 'proposePromptUpdate',
          parameters: { role: '$response.body#/role' },
        },
      },
      async handle({ path, body }) {
        const { role } = await governance.upsertAgentRole(
          {
            name: path.role,
            description: body.description,
            dailyUpdateLimit: body.daily_update_limit,
            cooldownSeconds: body.cooldown_seconds,
            requiresApproval: body.requires_approval,
          },
          o,
        );
        return { status: 200, body: roleJson(role) };
      },
    }),
    route({
      method: 'get',
      path: '/api/v1/governance/roles/{role}/prompts',
      operationId: 'listPromptVersions',
      summary: "A role's prompt versions, newest first",
      tag: 'governance',
      access: 'platform:read',
      request: { path: RolePath },
      responses: {
        200: { description: 'Versions', schema: z.object({ data: z.array(PromptVersion) }) },
      },
      errors: [404],
      async handle({ path }) {
        const { versions } = await governance.listPromptVersions({ role: path.role }, o);
        return { status: 200, body: { data: versions.map(versionJson) } };
      },
    }),
    route({
      method: 'post',
      path: '/api/v1/governance/roles/{role}/prompts',
      operationId: 'proposePromptUpdate',
      summary: "Propose a prompt update (allowed within the role's daily limit and cooldown)",
      tag: 'governance',
      access: 'tasks:submit',
      request: { path: RolePath, body: PromptUpdateRequest },
      responses: { 201: { description: 'The new version', schema: PromptVersion } },
      links: {
        ApproveVersion: {
          operationId: 'approvePromptVersion',
          parameters: { role: '$response.body#/role', version: '$response.body#/version' },
        },
        RejectVersion: {
          operationId: 'rejectPromptVersion',
          parameters: { role: '$response.body#/role', version: '$response.body#/version' },
        },
      },
      errors: [404, 409, 422],
      async handle({ path, body }) {
        const { version } = await governance.proposePromptUpdate(
          { role: path.role, prompt: body.prompt, source: body.source, reason: body.reason },
          o,
        );
        return { status: 201, body: versionJson(version) };
      },
    }),
    decide('approve'),
    decide('reject'),
  ];
}
