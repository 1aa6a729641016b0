import { AsyncLocalStorage } from 'node:async_hooks';
import type { Db, Tx } from './database';
import { TenantGroupCommit, type PendingWrite } from './group-commit';

interface Op {
  key: string;
  value: string;
  fail?: boolean;
}

/** A stand-in transaction runner: records each transaction's tenant and writes, commits later. */
function harness(options: { maxInFlight?: number; maxBatch?: number } = {}) {
  const transactions: { tenantId: string; values: string[] }[] = [];
  const gates: (() => void)[] = [];
  const transact = async <T>(tenantId: string, work: (tx: Tx) => Promise<T>): Promise<T> => {
    // Held open until the test releases it, as a slow transaction would be.
    await new Promise<void>((resolve) => gates.push(resolve));
    return work({} as Tx);
  };
  const write = async (_tx: Tx, tenantId: string, writes: PendingWrite<Op>[]) => {
    transactions.push({ tenantId, values: writes.map((w) => w.op.value) });
    if (writes.some((w) => w.op.fail)) throw new Error('constraint violated');
    return writes.map((w) => `${tenantId}:${w.op.value}`);
  };
  const commit = new TenantGroupCommit<Op, string>(transact, write, {
    keyOf: (op) => op.key,
    ...options,
  });
  const releaseAll = async () => {
    while (gates.length || commit.queued) {
      gates.splice(0).forEach((open) => open());
      await new Promise((resolve) => setImmediate(resolve));
    }
  };
  return { commit, transactions, gates, releaseAll };
}

describe('TenantGroupCommit', () => {
  it('starts a lone write at once and batches writes that arrive while transactions are in flight', async () => {
    const { commit, transactions, gates, releaseAll } = harness({ maxInFlight: 1 });
    const first = commit.submit('acme', { key: 'a', value: '1' });
    expect(gates).toHaveLength(1); // no waiting for company
    const rest = ['2', '3', '4'].map((v) => commit.submit('acme', { key: v, value: v }));
    expect(commit.queued).toBe(3);
    await releaseAll();
    await expect(first).resolves.toBe('acme:1');
    await expect(Promise.all(rest)).resolves.toEqual(['acme:2', 'acme:3', 'acme:4']);
    expect(transactions.map((t) => t.values)).toEqual([['1'], ['2', '3', '4']]);
  });

  it('never mixes tenants in one transaction; the tenant of the oldest waiting write goes next', async () => {
    const { commit, transactions, releaseAll } = harness({ maxInFlight: 1 });
    const all = [
      commit.submit('acme', { key: 'busy', value: 'busy' }),
      commit.submit('acme', { key: 'a1', value: 'a1' }),
      commit.submit('globex', { key: 'g1', value: 'g1' }),
      commit.submit('acme', { key: 'a2', value: 'a2' }),
    ];
    await releaseAll();
    await Promise.all(all);
    expect(transactions).toEqual([
      { tenantId: 'acme', values: ['busy'] },
      { tenantId: 'acme', values: ['a1', 'a2'] },
      { tenantId: 'globex', values: ['g1'] },
    ]);
  });

  it('per statement, mixes tenants in one batch, each write with its tenant', async () => {
    const batches: string[][] = [];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const commit = TenantGroupCommit.perStatement<Op, string>(
      {} as Db,
      async (_db, writes) => {
        batches.push(writes.map((w) => `${w.tenantId}:${w.op.value}`));
        await gate;
        return writes.map((w) => `${w.tenantId}/${w.op.value}`);
      },
      { keyOf: (op) => op.key, maxInFlight: 1 },
    );
    const all = [
      commit.submit('acme', { key: 'busy', value: 'busy' }),
      commit.submit('acme', { key: 'a1', value: 'a1' }),
      commit.submit('globex', { key: 'g1', value: 'g1' }),
      // One key per tenant: globex's 'a1' is another row than acme's.
      commit.submit('globex', { key: 'a1', value: 'g2' }),
    ];
    release();
    await expect(Promise.all(all)).resolves.toEqual([
      'acme/busy',
      'acme/a1',
      'globex/g1',
      'globex/g2',
    ]);
    expect(batches).toEqual([['acme:busy'], ['acme:a1', 'globex:g1', 'globex:g2']]);
  });

  it('keeps writes to one key in separate transactions, in order', async () => {
    const { commit, transactions, releaseAll } = harness({ maxInFlight: 1 });
    const all = [
      commit.submit('acme', { key: 'busy', value: 'busy' }),
      commit.submit('acme', { key: 'task-1', value: 'first' }),
      commit.submit('acme', { key: 'task-2', value: 'other' }),
      commit.submit('acme', { key: 'task-1', value: 'second' }),
      commit.submit('acme', { key: 'task-2', value: 'other-again' }),
    ];
    await releaseAll();
    await Promise.all(all);
    expect(transactions.map((t) => t.values)).toEqual([
      ['busy'],
      ['first', 'other'],
      ['second', 'other-again'],
    ]);
  });

  it('holds a write to a key whose earlier write is still in flight, even with a free slot', async () => {
    const { commit, transactions, gates, releaseAll } = harness({ maxInFlight: 2 });
    const first = commit.submit('acme', { key: 'task-1', value: 'first' });
    const second = commit.submit('acme', { key: 'task-1', value: 'second' });
    const other = commit.submit('acme', { key: 'task-2', value: 'other' });
    // The free slot went to task-2; task-1's second write waits for its first.
    expect(gates).toHaveLength(2);
    expect(commit.queued).toBe(1);
    await releaseAll();
    await Promise.all([first, second, other]);
    expect(transactions.map((t) => t.values)).toEqual([['first'], ['other'], ['second']]);
  });

  it('caps a transaction at maxBatch writes', async () => {
    const { commit, transactions, releaseAll } = harness({ maxInFlight: 1, maxBatch: 2 });
    const all = ['busy', '1', '2', '3'].map((v) => commit.submit('acme', { key: v, value: v }));
    await releaseAll();
    await Promise.all(all);
    expect(transactions.map((t) => t.values)).toEqual([['busy'], ['1', '2'], ['3']]);
  });

  it('fails only the write that broke a shared transaction: the others are retried alone and commit', async () => {
    const { commit, transactions, releaseAll } = harness({ maxInFlight: 1 });
    const busy = commit.submit('acme', { key: 'busy', value: 'busy' });
    const good1 = commit.submit('acme', { key: 'g1', value: 'g1' });
    const bad = commit.submit('acme', { key: 'b', value: 'bad', fail: true });
    const good2 = commit.submit('acme', { key: 'g2', value: 'g2' });
    const settled = Promise.allSettled([busy, good1, bad, good2]);
    await releaseAll();
    const [, r1, r2, r3] = await settled;
    expect(r1).toEqual({ status: 'fulfilled', value: 'acme:g1' });
    expect(r2).toMatchObject({ status: 'rejected', reason: new Error('constraint violated') });
    expect(r3).toEqual({ status: 'fulfilled', value: 'acme:g2' });
    expect(transactions.map((t) => t.values)).toEqual([
      ['busy'],
      ['g1', 'bad', 'g2'],
      ['g1'],
      ['bad'],
      ['g2'],
    ]);
  });

  it('lets the batch run code in each submitter’s async context', async () => {
    const storage = new AsyncLocalStorage<string>();
    const seen: (string | undefined)[] = [];
    const commit = new TenantGroupCommit<Op, void>(
      (_tenant, work) => work({} as Tx),
      async (_tx, _tenant, writes) =>
        writes.map((w) => void seen.push(w.inCaller(() => storage.getStore()))),
      { keyOf: (op) => op.key, maxInFlight: 1 },
    );
    await Promise.all(
      ['req-1', 'req-2', 'req-3'].map((requestId) =>
        storage.run(requestId, () => commit.submit('acme', { key: requestId, value: requestId })),
      ),
    );
    expect(seen.sort()).toEqual(['req-1', 'req-2', 'req-3']);
  });
});
