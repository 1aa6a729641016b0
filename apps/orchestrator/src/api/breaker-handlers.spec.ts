import { Metadata } from '@grpc/grpc-js';
import type { Role } from '@aion/auth';
import { AionError } from '@aion/errors';
import type { CallContext } from '@aion/grpc';
import { BreakerRegistry } from '@aion/resilience';
import { breakerHandlers } from './breaker-handlers';

const caller = (tenantId: string, roles: Role[]): CallContext => ({
  principal: {
    kind: 'service',
    tenantId,
    subject: `${tenantId}-user`,
    owner: `${tenantId}-user`,
    roles,
    caller: 'gateway',
  },
  requestId: 'req-1',
  signal: new AbortController().signal,
  deadline: undefined,
  metadata: new Metadata(),
});

async function setUp(platformTenant = 'default') {
  const breakers = new BreakerRegistry({ consecutiveFailures: 1, halfOpenAfterMs: 60_000 });
  const leak = new Error('engine eu-llm answered HTTP 500: prompt "Q3 numbers of acme" too long');
  await expect(breakers.execute('eu-llm', () => Promise.reject(leak))).rejects.toThrow();
  await breakers.execute('local-sum', () => Promise.resolve('ok'));
  const audited: string[] = [];
  const api = breakerHandlers(
    breakers,
    { record: async (action) => void audited.push(action) },
    platformTenant,
  );
  return { breakers, audited, ...api.handlers, permissions: api.permissions };
}

describe('circuit breaker RPCs: platform-wide state, platform admins manage it', () => {
  it("shows every tenant the breakers' state and counts, but not another tenant's failure text", async () => {
    const { listCircuitBreakers } = await setUp();
    for (const ctx of [caller('globex', ['admin']), caller('default', ['operator'])]) {
      const { breakers } = await listCircuitBreakers({}, ctx);
      expect(breakers.map((b) => [b.name, b.state, b.failures, b.successes, b.opened])).toEqual([
        ['eu-llm', 'open', 1n, 0n, 1n],
        ['local-sum', 'closed', 0n, 1n, 0n],
      ]);
      expect(breakers.map((b) => b.lastFailure)).toEqual(['', '']);
    }
  });

  it('shows the failure text to an admin of the platform tenant', async () => {
    const { listCircuitBreakers } = await setUp();
    const { breakers } = await listCircuitBreakers({}, caller('default', ['admin']));
    expect(breakers[0]!.lastFailure).toContain('answered HTTP 500');
  });

  it("refuses a reset by another tenant's admin or the platform tenant's operator", async () => {
    const { resetCircuitBreakers, breakers, audited } = await setUp();
    for (const ctx of [caller('globex', ['admin']), caller('default', ['operator', 'developer'])])
      await expect(resetCircuitBreakers({}, ctx)).rejects.toMatchObject({
        code: 'auth.forbidden',
        httpStatus: 403,
      } satisfies Partial<AionError>);
    expect(breakers.state('eu-llm')).toBe('open');
    expect(audited).toEqual([]);
  });

  it('lets an admin of the platform tenant reset every breaker, and audits it', async () => {
    const { resetCircuitBreakers, breakers, audited, permissions } = await setUp('platform-ops');
    await expect(resetCircuitBreakers({}, caller('default', ['admin']))).rejects.toThrow(AionError);
    await expect(resetCircuitBreakers({}, caller('platform-ops', ['admin']))).resolves.toEqual({
      reset: ['eu-llm', 'local-sum'],
    });
    expect(breakers.state('eu-llm')).toBe('closed');
    expect(audited).toEqual(['circuit_breakers.reset_all']);
    // The permission check in front of the handler stays as it was.
    expect(permissions).toEqual({
      listCircuitBreakers: 'platform:read',
      resetCircuitBreakers: 'operations:manage',
    });
  });
});
