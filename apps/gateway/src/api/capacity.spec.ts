import type { Principal } from '@aion/auth';
import { Capacity } from './capacity';

const principal = (tenantId: string, keyId: string): Principal => ({
  kind: 'api_key',
  tenantId,
  subject: `key:${keyId}`,
  owner: 'user:someone',
  roles: ['developer'],
  keyId,
});

describe('Capacity', () => {
  it('keeps one key, then one tenant, from taking every slot', () => {
    const capacity = new Capacity({ total: 10, perTenant: 4, perKey: 2 });
    const a1 = principal('a', 'k1');
    expect('release' in capacity.acquire(a1)).toBe(true);
    expect('release' in capacity.acquire(a1)).toBe(true);
    expect(capacity.acquire(a1)).toEqual({ refused: 'key' });
    expect('release' in capacity.acquire(principal('a', 'k2'))).toBe(true);
    expect('release' in capacity.acquire(principal('a', 'k2'))).toBe(true);
    expect(capacity.acquire(principal('a', 'k3'))).toEqual({ refused: 'tenant' });
    // Another tenant still gets its share.
    expect('release' in capacity.acquire(principal('b', 'k1'))).toBe(true);
    expect(capacity.inUse()).toBe(5);
    expect(capacity.inUse('a')).toBe(4);
  });

  it('refuses past the total and frees a slot once, however often it is released', () => {
    const capacity = new Capacity({ total: 1, perTenant: 5, perKey: 5 });
    const slot = capacity.acquire(principal('a', 'k1'));
    expect(capacity.acquire(principal('b', 'k1'))).toEqual({ refused: 'total' });
    if (!('release' in slot)) throw new Error('expected a slot');
    slot.release();
    slot.release();
    expect(capacity.inUse()).toBe(0);
    expect('release' in capacity.acquire(principal('b', 'k1'))).toBe(true);
    expect(capacity.inUse()).toBe(1);
  });
});
