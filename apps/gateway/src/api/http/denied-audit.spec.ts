import type { Principal } from '@aion/auth';
import type { AuditRecorder } from '@aion/events';
import { createLogger } from '@aion/telemetry';
import { deniedAudit } from './denied-audit';
import type { Route } from './routing/route';

const route = (operationId: string) =>
  ({ operationId, method: 'post', path: '/x', access: 'auth:manage' }) as unknown as Route;
const principal = (keyId: string): Principal => ({
  kind: 'api_key',
  tenantId: 't1',
  subject: `key:${keyId}`,
  owner: 'bootstrap',
  roles: ['developer'],
  keyId,
});

describe('deniedAudit', () => {
  it('records one access.denied per credential and operation a minute, as denied', async () => {
    const records: unknown[][] = [];
    const audit: Pick<AuditRecorder, 'record'> = {
      record: async (...args) => void records.push(args),
    };
    const deny = deniedAudit(audit, createLogger({ service: 'spec', level: 'error' }));
    for (let i = 0; i < 5; i++) deny(route('createApiKey'), principal('k1'));
    deny(route('createApiKey'), principal('k2'));
    deny(route('revokeApiKey'), principal('k1'));
    await new Promise((r) => setImmediate(r));
    expect(records).toEqual([
      [
        'access.denied',
        'createApiKey',
        { method: 'POST', path: '/x', permission: 'auth:manage' },
        'denied',
      ],
      [
        'access.denied',
        'createApiKey',
        { method: 'POST', path: '/x', permission: 'auth:manage' },
        'denied',
      ],
      [
        'access.denied',
        'revokeApiKey',
        { method: 'POST', path: '/x', permission: 'auth:manage' },
        'denied',
      ],
    ]);
  });

  it('never fails the request when the record cannot be written', async () => {
    const audit: Pick<AuditRecorder, 'record'> = {
      record: () => Promise.reject(new Error('database down')),
    };
    const deny = deniedAudit(audit, createLogger({ service: 'spec', level: 'error' }));
    expect(() => deny(route('createApiKey'), principal('k1'))).not.toThrow();
    await new Promise((r) => setImmediate(r));
  });
});
