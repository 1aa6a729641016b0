import { BrokenCircuitError } from 'cockatiel';
import { MemoryBreakerStateStore, type BreakerStateStore } from './breaker-store';
import { BreakerRegistry, type BreakerOptions } from './breakers';

const fail = () => Promise.reject(new Error('upstream down'));
const ok = () => Promise.resolve('ok');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The memory store, counting what each replica asks of it; `broken` makes every call fail. */
class WatchedStore implements BreakerStateStore {
  readonly calls: string[] = [];
  broken = false;
  constructor(private readonly inner = new MemoryBreakerStateStore()) {}

  private async call<T>(method: string, run: () => Promise<T>): Promise<T> {
    this.calls.push(method);
    if (this.broken) throw new Error('store unreachable');
    return run();
  }
  list = () => this.call('list', () => this.inner.list());
  open: BreakerStateStore['open'] = (n, c) => this.call('open', () => this.inner.open(n, c));
  claimTrial: BreakerStateStore['claimTrial'] = (n, c) =>
    this.call('claimTrial', () => this.inner.claimTrial(n, c));
  close: BreakerStateStore['close'] = (n, c) => this.call('close', () => this.inner.close(n, c));
  addCounts: BreakerStateStore['addCounts'] = (d) =>
    this.call('addCounts', () => this.inner.addCounts(d));
  resetAll = () => this.call('resetAll', () => this.inner.resetAll());
}

const options: BreakerOptions = { consecutiveFailures: 2, halfOpenAfterMs: 40 };

function replicas(store: BreakerStateStore, count = 2, trialLeaseMs = 60_000) {
  return Array.from(
    { length: count },
    (_, i) => new BreakerRegistry(options, undefined, { store, replica: `r${i}`, trialLeaseMs }),
  );
}

/** A call that runs until the test ends it. */
function held() {
  let end!: (outcome: 'ok' | 'fail') => void;
  const done = new Promise<string>((resolve, reject) => {
    end = (outcome) => (outcome === 'ok' ? resolve('ok') : reject(new Error('still down')));
  });
  return { fn: () => done, end };
}

async function openOn(registry: BreakerRegistry, name = 'engine') {
  for (let i = 0; i < 2; i++) await expect(registry.execute(name, fail)).rejects.toThrow();
  expect(registry.state(name)).toBe('open');
}

describe('an open breaker gets its trial call', () => {
  it('is offered again once its wait has passed, for one trial call that closes it', async () => {
    const registry = new BreakerRegistry(options);
    await openOn(registry);
    expect(registry.isOpen('engine')).toBe(true);
    await sleep(50);
    // The router must be able to pick it, or nothing ever calls it and it never closes.
    expect(registry.isOpen('engine')).toBe(false);
    const trial = held();
    const running = registry.execute('engine', trial.fn);
    await sleep(5);
    expect(registry.state('engine')).toBe('half_open');
    // One trial: while it runs the engine is left out, and a call that still comes is refused.
    expect(registry.isOpen('engine')).toBe(true);
    await expect(registry.execute('engine', ok)).rejects.toBeInstanceOf(BrokenCircuitError);
    trial.end('ok');
    await expect(running).resolves.toBe('ok');
    expect(registry.state('engine')).toBe('closed');
    expect(registry.isOpen('engine')).toBe(false);
    await expect(registry.execute('engine', ok)).resolves.toBe('ok');
  });

  it('opens again for another wait when the trial fails', async () => {
    const registry = new BreakerRegistry(options);
    await openOn(registry);
    await sleep(50);
    await expect(registry.execute('engine', fail)).rejects.toThrow('upstream down');
    expect(registry.state('engine')).toBe('open');
    expect(registry.isOpen('engine')).toBe(true);
    expect(registry.list()[0]).toMatchObject({ opened: 2, lastFailure: 'upstream down' });
    await sleep(50);
    expect(registry.isOpen('engine')).toBe(false);
  });
});

describe('replicas sharing a store', () => {
  it('see a breaker one of them opened, share its one trial, and close it together', async () => {
    const store = new MemoryBreakerStateStore();
    const [a, b] = replicas(store);
    await openOn(a!);
    expect(b!.isOpen('engine')).toBe(false);
    await b!.sync();
    expect(b!.isOpen('engine')).toBe(true);
    await expect(b!.execute('engine', ok)).rejects.toBeInstanceOf(BrokenCircuitError);

    await sleep(50);
    expect([a!.isOpen('engine'), b!.isOpen('engine')]).toEqual([false, false]);
    const trial = held();
    const running = b!.execute('engine', trial.fn);
    await sleep(5);
    // A offers it too, until it hears of B's claim; its own attempt is refused by the store.
    await expect(a!.execute('engine', ok)).rejects.toBeInstanceOf(BrokenCircuitError);
    expect(a!.isOpen('engine')).toBe(true);
    expect(a!.state('engine')).toBe('half_open');

    trial.end('ok');
    await running;
    expect(b!.state('engine')).toBe('closed');
    await a!.sync();
    expect(a!.state('engine')).toBe('closed');
    await expect(a!.execute('engine', ok)).resolves.toBe('ok');
  });

  it('let another replica take over a trial whose claim lapsed (its replica went away)', async () => {
    const store = new MemoryBreakerStateStore();
    const [a, b] = replicas(store, 2, 30);
    await openOn(a!);
    await sleep(50);
    void a!.execute('engine', () => new Promise<string>(() => undefined)); // never answers
    await sleep(5);
    await b!.sync();
    expect(b!.isOpen('engine')).toBe(true);
    await sleep(40);
    expect(b!.isOpen('engine')).toBe(false);
    await expect(b!.execute('engine', ok)).resolves.toBe('ok');
    await a!.sync();
    expect(a!.state('engine')).toBe('closed');
  });

  it('reset on one replica resets every replica, counts included', async () => {
    const store = new MemoryBreakerStateStore();
    const [a, b] = replicas(store);
    await openOn(a!);
    await openOn(b!, 'other');
    await b!.sync();
    await a!.sync();
    expect(await a!.resetAll()).toEqual(['engine', 'other']);
    expect(a!.list().map((s) => [s.name, s.state, s.failures])).toEqual([
      ['engine', 'closed', 0],
      ['other', 'closed', 0],
    ]);
    await b!.sync();
    expect(b!.list().map((s) => [s.name, s.state, s.failures, s.opened])).toEqual([
      ['engine', 'closed', 0, 0],
      ['other', 'closed', 0, 0],
    ]);
    expect(b!.list()[0]!.lastFailure).toBeUndefined();
    await expect(b!.execute('other', ok)).resolves.toBe('ok');
  });

  it('add up what every replica counted, and drop what was counted before a reset', async () => {
    const store = new MemoryBreakerStateStore();
    const [a, b] = replicas(store);
    await a!.execute('engine', ok);
    await b!.execute('engine', ok);
    await expect(b!.execute('engine', fail)).rejects.toThrow();
    await a!.sync();
    await b!.sync();
    await a!.sync();
    for (const replica of [a!, b!])
      expect(replica.list()[0]).toMatchObject({
        successes: 2,
        failures: 1,
        lastFailure: 'upstream down',
      });
    // B counted a success before the reset it has not heard of yet: it is not added afterwards.
    await b!.execute('engine', ok);
    await a!.resetAll();
    await b!.sync();
    await a!.sync();
    expect(a!.list()[0]).toMatchObject({ successes: 0, failures: 0 });
    expect(b!.list()[0]).toMatchObject({ successes: 0, failures: 0 });
  });
});

describe('what the breakers cost and how they bear a failing store', () => {
  it('never ask the store while routing or calling closed breakers; only state changes write', async () => {
    const store = new WatchedStore();
    const registry = new BreakerRegistry({ ...options, halfOpenAfterMs: 60_000 }, undefined, {
      store,
    });
    let offered = 0;
    for (let i = 0; i < 1000; i++) {
      if (!registry.isOpen('engine')) offered += 1;
      await registry.execute('engine', ok);
    }
    expect(offered).toBe(1000);
    expect(store.calls).toEqual([]);
    await openOn(registry);
    for (let i = 0; i < 1000; i++) if (!registry.isOpen('engine')) offered += 1;
    expect(offered).toBe(1000);
    expect(store.calls).toEqual(['open']);
  });

  it('keeps its own view when the store is unreachable, and heals once the store answers', async () => {
    const store = new WatchedStore();
    const errors: string[] = [];
    const registry = new BreakerRegistry(options, undefined, {
      store,
      onError: (_err, action) => errors.push(action),
    });
    store.broken = true;
    await openOn(registry);
    await sleep(50);
    // The opening never reached the store, and a trial cannot be claimed: the call is refused.
    await expect(registry.execute('engine', ok)).rejects.toBeInstanceOf(BrokenCircuitError);
    expect(errors).toEqual(['record the breaker open', 'claim a trial call']);
    expect(registry.isOpen('engine')).toBe(false);
    // Back: the store has it closed (it never heard of the opening), so the call goes ahead.
    store.broken = false;
    await expect(registry.execute('engine', ok)).resolves.toBe('ok');
    expect(registry.state('engine')).toBe('closed');
    await expect(registry.sync()).resolves.toBeUndefined();
  });
});
