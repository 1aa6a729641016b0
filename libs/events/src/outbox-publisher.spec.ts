import type { OutgoingMessage } from './envelope';
import { CommittedPublisher, type CommittedEvent } from './outbox-publisher';

const event = (id: string, key = 'task-1'): CommittedEvent => ({
  eventId: id,
  message: { topic: 't', key, value: new Uint8Array(), headers: {} },
});

const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

async function until(condition: () => boolean, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('CommittedPublisher (publish after commit)', () => {
  it('publishes in commit order and marks what it published', async () => {
    const sent: string[] = [];
    const marks: string[][] = [];
    const publisher = new CommittedPublisher({
      publish: async (messages: OutgoingMessage[]) => void sent.push(...messages.map((m) => m.key)),
      markPublished: async (ids) => void marks.push(ids),
      onHandOver: () => undefined,
    });
    publisher.committed([event('a', 'k1'), event('b', 'k2')]);
    publisher.committed([event('c', 'k3')]);
    await until(() => marks.length === 1);
    expect(sent).toEqual(['k1', 'k2', 'k3']);
    // Two publishes, one mark: the commits of one spell are marked by one statement.
    expect(marks).toEqual([['a', 'b', 'c']]);
    publisher.committed([event('d', 'k4')]);
    await until(() => marks.length === 2);
    expect(marks[1]).toEqual(['d']);
  });

  it('lets a statement of its own carry the marks: taken, they are not marked again', async () => {
    const marks: string[][] = [];
    const publisher = new CommittedPublisher({
      publish: async () => undefined,
      markPublished: async (ids) => void marks.push(ids),
      onHandOver: () => undefined,
      markAfterMs: 20,
    });
    publisher.committed([event('a'), event('b')]);
    let carried: string[] = [];
    await until(() => (carried = publisher.takeUnmarked()).length > 0);
    expect(carried).toEqual(['a', 'b']);
    // Taken before the timer: the carrier marks them, the publisher's own statement never runs.
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(marks).toEqual([]);
    expect(publisher.takeUnmarked()).toEqual([]);
  });

  it('marks what a carrier gave back (its statement failed) with a statement of its own', async () => {
    const marks: string[][] = [];
    const publisher = new CommittedPublisher({
      publish: async () => undefined,
      markPublished: async (ids) => void marks.push(ids),
      onHandOver: () => undefined,
      markAfterMs: 20,
    });
    publisher.committed([event('x')]);
    let carried: string[] = [];
    await until(() => (carried = publisher.takeUnmarked()).length > 0);
    publisher.giveBack(carried);
    await until(() => marks.length === 1);
    expect(marks).toEqual([['x']]);
  });

  it('keeps a failed batch at the head: nothing committed later overtakes it', async () => {
    const sent: string[] = [];
    let failures = 2;
    const publisher = new CommittedPublisher({
      publish: async (messages) => {
        if (failures-- > 0) throw new Error('broker down');
        sent.push(...messages.map((m) => m.key));
      },
      markPublished: async () => undefined,
      onHandOver: () => undefined,
    });
    publisher.committed([event('1', 'first')]);
    await settle();
    publisher.committed([event('2', 'second')]);
    await until(() => sent.length === 2);
    expect(sent).toEqual(['first', 'second']);
  });

  it('hands everything to the relay when the queue overflows, and resumes only after a quiet empty sweep', async () => {
    let handOvers = 0;
    const sent: string[] = [];
    let open = false;
    const publisher = new CommittedPublisher({
      publish: async (messages) => {
        if (!open) throw new Error('broker down');
        sent.push(...messages.map((m) => m.key));
      },
      markPublished: async () => undefined,
      onHandOver: () => handOvers++,
      maxQueued: 3,
    });
    publisher.committed([event('1'), event('2')]);
    publisher.committed([event('3'), event('4')]);
    expect(publisher.relayOnly).toBe(true);
    expect(handOvers).toBe(1);
    open = true;
    // Handed over: later commits are the relay's too (it is nudged for each).
    const before = publisher.announcements;
    publisher.committed([event('5')]);
    expect(handOvers).toBe(2);
    // The relay's sweep began before that commit was announced: it may have missed it.
    publisher.resume(before);
    expect(publisher.relayOnly).toBe(true);
    publisher.resume(publisher.announcements);
    expect(publisher.relayOnly).toBe(false);
    publisher.committed([event('6', 'six')]);
    await until(() => sent.length === 1);
    expect(sent).toEqual(['six']);
  });

  it('publishes nothing after stop: what is queued stays in the outbox for the flush', async () => {
    const sent: string[] = [];
    const publisher = new CommittedPublisher({
      publish: async (messages) => void sent.push(...messages.map((m) => m.key)),
      markPublished: async () => undefined,
      onHandOver: () => undefined,
    });
    await publisher.stop();
    publisher.committed([event('x')]);
    await settle();
    expect(sent).toEqual([]);
    expect(publisher.relayOnly).toBe(true);
  });
});
