import { Router } from 'express';
import { OrchestratorAdminService } from '@aion/contracts';
import { principalOf, requirePermission, type ApiKeyRecord, type ApiKeyService } from '@aion/auth';
import { AionError } from '@aion/errors';
import type { ClientOf } from '@aion/grpc';
import {
  BudgetCommitRequest,
  BudgetLimitRequest,
  BudgetReleaseRequest,
  BudgetReserveRequest,
  BudgetStateQuery,
  CreateApiKeyRequest,
} from './schemas';
import type { AdminAudit } from './app';
import { parse } from './validate';

const keyJson = (r: ApiKeyRecord) => ({
  id: r.id,
  prefix: r.prefix,
  name: r.name,
  role: r.role,
  created_at: r.createdAt.toISOString(),
  expires_at: r.expiresAt?.toISOString() ?? null,
  revoked_at: r.revokedAt?.toISOString() ?? null,
  last_used_at: r.lastUsedAt?.toISOString() ?? null,
});

type Reservation =
  | {
      requestId: string;
      projectId: string;
      amountUsd: number;
      committedUsd: number;
      status: string;
    }
  | undefined;
const reservationJson = (r: Reservation) =>
  r && {
    request_id: r.requestId,
    project_id: r.projectId,
    amount_usd: r.amountUsd,
    committed_usd: r.committedUsd,
    status: r.status,
  };
type State =
  | {
      projectId: string;
      hasLimit: boolean;
      limitUsd: number;
      reservedUsd: number;
      committedUsd: number;
      remainingUsd: number;
    }
  | undefined;
const stateJson = (s: State) =>
  s && {
    project_id: s.projectId,
    limit_usd: s.hasLimit ? s.limitUsd : null,
    reserved_usd: s.reservedUsd,
    committed_usd: s.committedUsd,
    remaining_usd: s.hasLimit ? s.remainingUsd : null,
  };

/** /api/v1: API keys, budgets and circuit breakers. */
export function adminRoutes(
  keys: ApiKeyService,
  admin: ClientOf<typeof OrchestratorAdminService>,
  requestTimeoutMs: number,
  audit: AdminAudit,
): Router {
  const router = Router();
  const options = { deadlineMs: requestTimeoutMs };

  router.post('/api/v1/auth/keys', requirePermission('auth:manage'), async (req, res) => {
    const body = parse(CreateApiKeyRequest, req.body, 'key request');
    const expiresAt = body.expires_at ? new Date(body.expires_at) : null;
    const { key, record } = await keys.create({
      tenantId: principalOf(res)!.tenantId,
      role: body.role,
      name: body.name,
      expiresAt,
    });
    await audit.record('api_key.created', record.id, {
      name: record.name,
      role: record.role,
      expires_at: record.expiresAt?.toISOString() ?? null,
    });
    res.setHeader('Cache-Control', 'no-store');
    res
      .status(201)
      .json({ ...keyJson(record), key, note: 'store this key now: it is never shown again' });
  });
  router.get('/api/v1/auth/keys', requirePermission('auth:manage'), async (_req, res) => {
    res.json({ data: (await keys.list(principalOf(res)!.tenantId)).map(keyJson) });
  });
  router.post(
    '/api/v1/auth/keys/:id/revoke',
    requirePermission('auth:manage'),
    async (req, res) => {
      const id = String(req.params['id']);
      if (!/^[0-9a-f-]{36}$/.test(id))
        throw AionError.validation('key id must be a UUID', [
          { field: 'id', message: 'must be a UUID' },
        ]);
      await keys.revoke(principalOf(res)!.tenantId, id);
      await audit.record('api_key.revoked', id);
      res.status(204).end();
    },
  );

  router.post('/api/v1/budget/request', requirePermission('budget:manage'), async (req, res) => {
    const body = parse(BudgetReserveRequest, req.body, 'budget request');
    res.json(
      reservationJson(
        (
          await admin.reserveBudget(
            { requestId: body.request_id, projectId: body.project_id, amountUsd: body.amount_usd },
            options,
          )
        ).reservation,
      ),
    );
  });
  router.post('/api/v1/budget/commit', requirePermission('budget:manage'), async (req, res) => {
    const body = parse(BudgetCommitRequest, req.body, 'budget commit');
    res.json(
      reservationJson(
        (
          await admin.commitBudget(
            { requestId: body.request_id, actualUsd: body.actual_usd },
            options,
          )
        ).reservation,
      ),
    );
  });
  router.post('/api/v1/budget/release', requirePermission('budget:manage'), async (req, res) => {
    const body = parse(BudgetReleaseRequest, req.body, 'budget release');
    res.json(
      reservationJson(
        (await admin.releaseBudget({ requestId: body.request_id }, options)).reservation,
      ),
    );
  });
  router.get('/api/v1/budget/state', requirePermission('budget:read'), async (req, res) => {
    const query = parse(BudgetStateQuery, req.query, 'query');
    res.json(
      stateJson((await admin.getBudgetState({ projectId: query.project_id }, options)).state),
    );
  });
  router.put('/api/v1/budget/limits', requirePermission('budget:manage'), async (req, res) => {
    const body = parse(BudgetLimitRequest, req.body, 'budget limit');
    res.json(
      stateJson(
        (
          await admin.setBudgetLimit(
            { projectId: body.project_id, limitUsd: body.limit_usd },
            options,
          )
        ).state,
      ),
    );
  });

  router.get(
    '/api/v1/circuit-breakers',
    requirePermission('observability:read'),
    async (_req, res) => {
      const { breakers } = await admin.listCircuitBreakers({}, options);
      res.json({
        data: breakers.map((b) => ({
          name: b.name,
          state: b.state,
          successes: Number(b.successes),
          failures: Number(b.failures),
          rejections: Number(b.rejections),
          opened: Number(b.opened),
          last_failure: b.lastFailure || null,
          last_state_change: b.lastStateChange,
        })),
      });
    },
  );
  router.post(
    '/api/v1/circuit-breakers/reset_all',
    requirePermission('operations:manage'),
    async (_req, res) => {
      res.json({ reset: (await admin.resetCircuitBreakers({}, options)).reset });
    },
  );
  return router;
}
