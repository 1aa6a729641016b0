import { currentTenant, isValidTenantId, requireTenant, runWithTenant } from './context';
import { tenantFromHeaders, tenantToHeaders } from './propagation';

const ctx = { tenantId: 'acme', subject: 'user-1', roles: ['developer'], requestId: 'r-1' };

describe('tenant context', () => {
  it('is visible inside runWithTenant, across awaits, and gone outside', async () => {
    expect(currentTenant()).toBeUndefined();
    await runWithTenant(ctx, async () => {
      await new Promise((r) => setTimeout(r, 1));
      expect(currentTenant()?.tenantId).toBe('acme');
      expect(requireTenant().roles).toEqual(['developer']);
    });
    expect(currentTenant()).toBeUndefined();
    expect(() => requireTenant()).toThrow(/no tenant context/);
  });

  it('keeps concurrent requests apart', async () => {
    const seen = await Promise.all(
      ['t1', 't2', 't3'].map((tenantId) =>
        runWithTenant({ ...ctx, tenantId }, async () => {
          await new Promise((r) => setTimeout(r, Math.random() * 5));
          return currentTenant()?.tenantId;
        }),
      ),
    );
    expect(seen).toEqual(['t1', 't2', 't3']);
  });

  it('cannot be mutated by the code it runs', () => {
    runWithTenant(ctx, () => {
      expect(() => {
        (currentTenant() as { tenantId: string }).tenantId = 'evil';
      }).toThrow();
    });
  });

  it("names the owner behind the subject; a context set without one is its subject's", () => {
    runWithTenant(ctx, () => expect(requireTenant().owner).toBe('user-1'));
    runWithTenant({ ...ctx, subject: 'key:k2', owner: 'user:alice' }, () =>
      expect(requireTenant()).toMatchObject({ subject: 'key:k2', owner: 'user:alice' }),
    );
    runWithTenant({ ...ctx, owner: '' }, () => expect(requireTenant().owner).toBe('user-1'));
  });

  it('validates tenant ids', () => {
    expect(isValidTenantId('acme-eu_1')).toBe(true);
    expect(isValidTenantId("acme'; drop table x")).toBe(false);
    expect(isValidTenantId('')).toBe(false);
  });
});

describe('propagation', () => {
  it('round-trips through string headers (gRPC metadata) and Buffer headers (Kafka)', () => {
    const headers = tenantToHeaders(ctx);
    expect(tenantFromHeaders(headers)).toEqual(ctx);
    const kafka = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, Buffer.from(v)]));
    expect(tenantFromHeaders(kafka)).toEqual(ctx);
    const owned = { ...ctx, subject: 'key:k2', owner: 'user:alice' };
    expect(tenantFromHeaders(tenantToHeaders(owned))).toEqual(owned);
  });

  it('refuses missing or malformed tenant ids', () => {
    expect(tenantFromHeaders({})).toBeUndefined();
    expect(tenantFromHeaders({ 'x-aion-tenant-id': '../etc' })).toBeUndefined();
  });
});
