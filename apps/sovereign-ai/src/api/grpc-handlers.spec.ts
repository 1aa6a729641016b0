import { AionError } from '@aion/errors';
import type { GrpcServer } from '@aion/grpc';
import { runWithTenant } from '@aion/tenancy';
import type { SovereignModel } from '../core/model';
import { registerSovereignApi, type SovereignApi } from './grpc-handlers';

type Handler = (req: unknown, ctx: unknown) => Promise<unknown>;
type Audited = { action: string; resourceId: string; details: object; outcome: string };

const model: SovereignModel = {
  id: 'm-1',
  tenantId: 'acme',
  modelRef: 'llama',
  name: 'llama',
  version: '',
  jurisdiction: 'EU',
  status: 'APPROVED',
  registeredBy: 'alice',
  registeredByOwner: 'alice',
  decidedBy: 'bob',
  decisionReason: '',
  createdAt: new Date(0),
  updatedAt: new Date(0),
};

/** The handlers registerSovereignApi gives the gRPC server, with the audit trail they write. */
function handlersWith(api: Partial<SovereignApi>) {
  const audited: Audited[] = [];
  let handlers: Record<string, Handler> = {};
  // Only `add` is called at registration; the handlers it receives are what the server would run.
  const server = {
    add: (_service: unknown, implementation: Record<string, Handler>) => {
      handlers = implementation;
      return server;
    },
  } as unknown as GrpcServer;
  registerSovereignApi(server, {
    audit: {
      record: async (action, resourceId, details = {}, outcome = 'success') =>
        void audited.push({ action, resourceId, details, outcome }),
      // In memory, the one transaction is: nothing is recorded unless the change succeeded.
      recordChange: async <T>(
        change: () => Promise<T>,
        entry: (
          result: T,
        ) => { action: string; resourceId: string; details?: Record<string, unknown> } | undefined,
      ) => {
        const result = await change();
        const e = entry(result);
        if (e) audited.push({ ...e, details: e.details ?? {}, outcome: 'success' });
        return result;
      },
    },
    ...api,
  } as SovereignApi);
  const call = (name: string, req: object) =>
    runWithTenant({ tenantId: 'acme', subject: 'alice', roles: ['admin'], requestId: 'r' }, () =>
      handlers[name]!(req, {}),
    );
  return { call, audited };
}

describe('the audit trail of sovereign-ai mutations', () => {
  it('records a refused mutation as denied, with the error, and still refuses it', async () => {
    const refusal = new AionError('auth.forbidden', 'two-person rule: alice registered m-1', {
      details: [{ field: 'id', reason: 'two_person_rule', message: 'another principal must' }],
    });
    const { call, audited } = handlersWith({
      registry: { decide: async () => Promise.reject(refusal) } as never,
    });
    await expect(call('approveModel', { id: 'm-1', reason: 'looks fine' })).rejects.toBe(refusal);
    expect(audited).toEqual([
      {
        action: 'model.approved',
        resourceId: 'm-1',
        outcome: 'denied',
        details: {
          reason: 'looks fine',
          error_code: 'auth.forbidden',
          error: 'two-person rule: alice registered m-1',
        },
      },
    ]);
  });

  it("records a deployment refused because the cluster holds another tenant's object", async () => {
    const refusal = new AionError('state.conflict', 'Deployment x/y belongs to another tenant');
    const { call, audited } = handlersWith({
      deployments: {
        deploy: async () => Promise.reject(refusal),
        updateStatus: async () => Promise.reject(refusal),
      } as never,
    });
    const deploy = { jurisdiction: 'DE', region: 'eu-central-1', modelId: 'llama', image: 'i' };
    await expect(call('deployRegional', deploy)).rejects.toBe(refusal);
    await expect(call('updateDeploymentStatus', { id: 'd-1', status: 5, reason: '' })).rejects.toBe(
      refusal,
    );
    expect(audited.map((a) => [a.action, a.resourceId, a.outcome])).toEqual([
      ['deployment.requested', '', 'denied'],
      ['deployment.status_changed', 'd-1', 'denied'],
    ]);
  });

  it('records successes, and leaves out requests that were malformed or named nothing', async () => {
    const { call, audited } = handlersWith({
      registry: {
        decide: async (id: string) => {
          if (id === 'gone') throw new AionError('resource.not_found', 'model gone not found');
          return model;
        },
      } as never,
    });
    await call('approveModel', { id: 'm-1', reason: '' });
    await expect(call('approveModel', { id: '', reason: '' })).rejects.toMatchObject({
      code: 'validation.invalid_argument',
    });
    await expect(call('approveModel', { id: 'gone', reason: '' })).rejects.toMatchObject({
      code: 'resource.not_found',
    });
    expect(audited).toEqual([
      { action: 'model.approved', resourceId: 'm-1', outcome: 'success', details: {} },
    ]);
  });
});
