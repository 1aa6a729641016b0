import type { JsonObject } from '@bufbuild/protobuf';
import { AionError } from '@aion/errors';
import type { DeadLetter, DeadLetterService } from '../core/dead-letters';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function entryId(id: string): string {
  if (!UUID.test(id))
    throw AionError.validation('id must be a dead-letter id (a UUID)', [
      { field: 'id', message: 'must be a UUID' },
    ]);
  return id.toLowerCase();
}

function note(value: string): string | undefined {
  if (value.length > 1000)
    throw AionError.validation('note is longer than 1000 characters', [
      { field: 'note', message: 'at most 1000 characters' },
    ]);
  return value || undefined;
}

export const deadLetterJson = (e: DeadLetter) => ({
  id: e.id,
  source: e.source,
  ref: e.ref,
  subject: e.subject,
  errorCode: e.errorCode,
  errorMessage: e.errorMessage,
  retryCount: e.retryCount,
  payload: e.payload as JsonObject,
  failedAt: e.failedAt.toISOString(),
  resolvedAt: e.resolvedAt?.toISOString() ?? '',
  resolvedBy: e.resolvedBy ?? '',
  resolution: e.resolution ?? '',
  note: e.note ?? '',
  replayRef: e.replayRef ?? '',
});

/** The dead-letter RPCs of aion.v1.OrchestratorAdminService; operators only (payloads hold task data). */
export function deadLetterHandlers(dlq: DeadLetterService) {
  return {
    handlers: {
      listDeadLetters: async (req: {
        resolved?: boolean | undefined;
        source: string;
        limit: number;
        offset: number;
      }) => {
        if (req.source && req.source !== 'task' && req.source !== 'message')
          throw AionError.validation('source must be task or message', [
            { field: 'source', message: 'must be task or message' },
          ]);
        if (req.limit > 200)
          throw AionError.validation('limit must be at most 200', [
            { field: 'limit', message: 'must be 1-200' },
          ]);
        const { items, total } = await dlq.list({
          resolved: req.resolved,
          source: (req.source || undefined) as 'task' | 'message' | undefined,
          limit: req.limit || 50,
          offset: req.offset,
        });
        return { entries: items.map(deadLetterJson), total };
      },
      getDeadLetter: async (req: { id: string }) => ({
        entry: deadLetterJson(await dlq.get(entryId(req.id))),
      }),
      resolveDeadLetter: async (req: { id: string; note: string }) => ({
        entry: deadLetterJson(await dlq.resolve(entryId(req.id), note(req.note))),
      }),
      replayDeadLetter: async (req: { id: string; note: string }) => ({
        entry: deadLetterJson(await dlq.replay(entryId(req.id), note(req.note))),
      }),
    },
    permissions: {
      listDeadLetters: 'dlq:read',
      getDeadLetter: 'dlq:read',
      resolveDeadLetter: 'operations:manage',
      replayDeadLetter: 'operations:manage',
    },
  } as const;
}
