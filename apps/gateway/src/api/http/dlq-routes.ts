import { Router } from 'express';
import type { OrchestratorAdminService } from '@aion/contracts';
import { requirePermission } from '@aion/auth';
import type { ClientOf } from '@aion/grpc';
import { DeadLetterAction, DeadLetterIdParam, DeadLetterListQuery } from './schemas';
import { parse } from './validate';

type Entry = Awaited<
  ReturnType<ClientOf<typeof OrchestratorAdminService>['getDeadLetter']>
>['entry'];

const entryJson = (e: Entry) =>
  e && {
    id: e.id,
    source: e.source,
    ref: e.ref,
    subject: e.subject,
    error_code: e.errorCode,
    error_message: e.errorMessage,
    retry_count: e.retryCount,
    payload: e.payload ?? {},
    failed_at: e.failedAt,
    resolved: Boolean(e.resolvedAt),
    resolved_at: e.resolvedAt || null,
    resolved_by: e.resolvedBy || null,
    resolution: e.resolution || null,
    note: e.note || null,
    replay_ref: e.replayRef || null,
  };

/** /api/v1/dlq: the orchestrator's dead-letter queue, for operators and admins. */
export function dlqRoutes(
  admin: ClientOf<typeof OrchestratorAdminService>,
  requestTimeoutMs: number,
): Router {
  const router = Router();
  const options = { deadlineMs: requestTimeoutMs };
  const guard = requirePermission('operations:manage');

  router.get('/api/v1/dlq', guard, async (req, res) => {
    const query = parse(DeadLetterListQuery, req.query, 'query');
    const { entries, total } = await admin.listDeadLetters(
      {
        ...(query.resolved ? { resolved: query.resolved === 'true' } : {}),
        source: query.source ?? '',
        limit: query.limit,
        offset: query.offset,
      },
      options,
    );
    res.json({
      data: entries.map(entryJson),
      total,
      limit: query.limit,
      offset: query.offset,
    });
  });
  router.get('/api/v1/dlq/:id', guard, async (req, res) => {
    const { id } = parse(DeadLetterIdParam, req.params, 'path');
    res.json(entryJson((await admin.getDeadLetter({ id }, options)).entry));
  });
  router.post('/api/v1/dlq/:id/resolve', guard, async (req, res) => {
    const { id } = parse(DeadLetterIdParam, req.params, 'path');
    const { note } = parse(DeadLetterAction, req.body ?? {}, 'body');
    res.json(entryJson((await admin.resolveDeadLetter({ id, note }, options)).entry));
  });
  router.post('/api/v1/dlq/:id/replay', guard, async (req, res) => {
    const { id } = parse(DeadLetterIdParam, req.params, 'path');
    const { note } = parse(DeadLetterAction, req.body ?? {}, 'body');
    res.json(entryJson((await admin.replayDeadLetter({ id, note }, options)).entry));
  });
  return router;
}
