import { create, toBinary } from '@bufbuild/protobuf';
import { EventEnvelopeSchema, TaskStatus } from '@aion/contracts';
import { currentTenant, runWithTenant } from '@aion/tenancy';
import { eventually } from '@aion/testing';
import { DLQ_HEADERS, type IncomingEvent } from './bus';
import { allTopics, dlqTopicOf, EVENT_CATALOG, TOPICS } from './catalog';
import { MemoryDeduper } from './dedupe';
import { createEvent, decodeEnvelope, InvalidEventError, payloadOf } from './envelope';
import { MemoryBus } from './memory-bus';

const ctx = { tenantId: 'acme', subject: 'u1', roles: ['developer'], requestId: 'req-9' };

function taskEvent(taskId = 't-1') {
  return runWithTenant(ctx, () =>
    createEvent({
      type: 'task.state_changed',
      source: 'aion/orchestrator',
      key: taskId,
      payload: {
        taskId,
        fromStatus: TaskStatus.QUEUED,
        toStatus: TaskStatus.ROUTED,
        intent: 'summarize',
      },
    }),
  );
}

describe('event catalog', () => {
  it('routes every event type to a known topic', () => {
    const topics = new Set(Object.values(TOPICS));
    for (const entry of Object.values(EVENT_CATALOG)) expect(topics.has(entry.topic)).toBe(true);
    expect(EVENT_CATALOG['residency.violation'].topic).toBe('sovereign.residency');
    expect(allTopics()).toContain('tasks.lifecycle.dlq');
  });
});

describe('envelope', () => {
  it('round-trips with tenant, correlation and typed payload', () => {
    const { envelope, message } = taskEvent();
    expect(message.topic).toBe('tasks.lifecycle');
    expect(message.key).toBe('t-1');
    expect(message.headers['aion-event-id']).toBe(envelope.id);
    const decoded = decodeEnvelope(message.value);
    expect(decoded).toMatchObject({
      id: envelope.id,
      type: 'task.state_changed',
      source: 'aion/orchestrator',
      tenantId: 'acme',
      correlationId: 'req-9',
    });
    const payload = payloadOf(decoded, 'task.state_changed');
    expect(payload.taskId).toBe('t-1');
    expect(payload.toStatus).toBe(TaskStatus.ROUTED);
  });

  it('refuses malformed, typeless and unknown-type messages', () => {
    expect(() => decodeEnvelope(Buffer.from('not protobuf at all \xff\xff'))).toThrow(
      InvalidEventError,
    );
    expect(() => decodeEnvelope(null)).toThrow(/empty/);
    const unknown = toBinary(
      EventEnvelopeSchema,
      create(EventEnvelopeSchema, { id: 'x', type: 'made.up' }),
    );
    expect(() => decodeEnvelope(unknown)).toThrow(/unknown event type/);
  });

  it('refuses a payload that does not match its type', () => {
    const { envelope } = taskEvent();
    expect(() => payloadOf(envelope, 'usage.recorded')).toThrow(/expected usage.recorded/);
  });
});

describe('MemoryBus', () => {
  const fastRetry = { maxAttempts: 3, retryBaseMs: 1 };

  it('delivers to each consumer group once, in the event tenant context', async () => {
    const bus = new MemoryBus();
    const seenA: string[] = [];
    const seenB: (string | undefined)[] = [];
    const a = await bus.subscribe({
      groupId: 'a',
      topics: [TOPICS.tasksLifecycle],
      handler: async (e) => void seenA.push(e.envelope.id),
    });
    const b = await bus.subscribe({
      groupId: 'b',
      topics: [TOPICS.tasksLifecycle],
      handler: async () => void seenB.push(currentTenant()?.tenantId),
    });
    const { envelope, message } = taskEvent();
    await bus.publish([message]);
    await eventually(() => seenA.length === 1 && seenB.length === 1);
    expect(seenA).toEqual([envelope.id]);
    expect(seenB).toEqual(['acme']);
    await Promise.all([a.stop(), b.stop()]);
    await bus.close();
  });

  it('retries a failing handler and then succeeds', async () => {
    const bus = new MemoryBus();
    let calls = 0;
    const sub = await bus.subscribe({
      groupId: 'g',
      topics: [TOPICS.tasksLifecycle],
      ...fastRetry,
      handler: async () => {
        if (++calls < 3) throw new Error('transient');
      },
    });
    await bus.publish([taskEvent().message]);
    await eventually(() => calls === 3);
    await sub.stop();
    expect(bus.records(dlqTopicOf(TOPICS.tasksLifecycle))).toHaveLength(0);
  });

  it('dead-letters after the last attempt with error metadata, and moves on', async () => {
    const bus = new MemoryBus();
    const handled: string[] = [];
    const sub = await bus.subscribe({
      groupId: 'g',
      topics: [TOPICS.tasksLifecycle],
      ...fastRetry,
      handler: async (e: IncomingEvent) => {
        if (e.key === 'bad') throw new Error('cannot handle');
        handled.push(e.key);
      },
    });
    await bus.publish([taskEvent('bad').message, taskEvent('good').message]);
    await eventually(() => handled.length === 1);
    const dlq = bus.records('tasks.lifecycle.dlq');
    expect(dlq).toHaveLength(1);
    expect(dlq[0]!.headers[DLQ_HEADERS.error]).toBe('cannot handle');
    expect(dlq[0]!.headers[DLQ_HEADERS.attempts]).toBe('3');
    expect(dlq[0]!.headers[DLQ_HEADERS.originalTopic]).toBe('tasks.lifecycle');
    expect(decodeEnvelope(dlq[0]!.value).id).toBeTruthy();
    await sub.stop();
  });

  it('never dead-letters a dead letter: a failing DLQ consumer leaves it in its topic', async () => {
    const bus = new MemoryBus();
    let calls = 0;
    const sub = await bus.subscribe({
      groupId: 'dlq-reader',
      topics: [dlqTopicOf(TOPICS.tasksLifecycle)],
      ...fastRetry,
      handler: async () => {
        calls++;
        throw new Error('store down');
      },
    });
    await bus.publish([{ ...taskEvent().message, topic: dlqTopicOf(TOPICS.tasksLifecycle) }]);
    await eventually(() => calls === 3);
    await sub.stop();
    expect(bus.records(dlqTopicOf(TOPICS.tasksLifecycle))).toHaveLength(1);
    expect(bus.records(`${dlqTopicOf(TOPICS.tasksLifecycle)}.dlq`)).toHaveLength(0);
  });

  it('dead-letters a poison message at once without calling the handler', async () => {
    const bus = new MemoryBus();
    let calls = 0;
    const sub = await bus.subscribe({
      groupId: 'g',
      topics: [TOPICS.auditActivity],
      handler: async () => void calls++,
    });
    await bus.publish([
      { topic: TOPICS.auditActivity, key: 'k', value: Buffer.from('garbage'), headers: {} },
    ]);
    await eventually(() => bus.records('audit.activity.dlq').length === 1);
    expect(calls).toBe(0);
    expect(bus.records('audit.activity.dlq')[0]!.headers[DLQ_HEADERS.attempts]).toBe('0');
    await sub.stop();
  });

  it('skips an event id the group already processed', async () => {
    const bus = new MemoryBus();
    let calls = 0;
    const deduper = new MemoryDeduper();
    const sub = await bus.subscribe({
      groupId: 'g',
      topics: [TOPICS.tasksLifecycle],
      deduper,
      handler: async () => void calls++,
    });
    const { message } = taskEvent();
    await bus.publish([message, message, message]);
    await eventually(() => bus.records(TOPICS.tasksLifecycle).length === 3 && calls >= 1);
    await new Promise((r) => setTimeout(r, 20));
    expect(calls).toBe(1);
    await sub.stop();
  });

  it('resumes a group from its committed offset after a restart (at least once, nothing lost)', async () => {
    const bus = new MemoryBus();
    const seen: string[] = [];
    const first = await bus.subscribe({
      groupId: 'g',
      topics: [TOPICS.tasksLifecycle],
      handler: async (e) => void seen.push(e.key),
    });
    await bus.publish([taskEvent('1').message]);
    await eventually(() => seen.length === 1);
    await first.stop();
    await bus.publish([taskEvent('2').message, taskEvent('3').message]);
    const second = await bus.subscribe({
      groupId: 'g',
      topics: [TOPICS.tasksLifecycle],
      handler: async (e) => void seen.push(e.key),
    });
    await eventually(() => seen.length === 3);
    expect(seen).toEqual(['1', '2', '3']);
    await second.stop();
  });

  it('forgets an ephemeral group when it stops: the same id starts afresh', async () => {
    const bus = new MemoryBus();
    const seen: string[] = [];
    const subscribe = () =>
      bus.subscribe({
        groupId: 'replica-1',
        topics: [TOPICS.tasksLifecycle],
        ephemeral: true,
        handler: async (e) => void seen.push(e.key),
      });
    const first = await subscribe();
    await bus.publish([taskEvent('1').message]);
    await eventually(() => seen.length === 1);
    await first.stop();
    // A kept group would resume after '1'; a forgotten one reads from the beginning again.
    const second = await subscribe();
    await eventually(() => seen.length === 2);
    expect(seen).toEqual(['1', '1']);
    await second.stop();
  });

  it('keeps memory bounded by retention', async () => {
    const bus = new MemoryBus({ retention: 5 });
    for (let i = 0; i < 12; i++) await bus.publish([taskEvent(String(i)).message]);
    const records = bus.records(TOPICS.tasksLifecycle);
    // At least `retention` kept, at most a quarter more (trimmed in chunks), the newest last.
    expect(records.length).toBeGreaterThanOrEqual(5);
    expect(records.length).toBeLessThanOrEqual(6);
    expect(records.at(-1)!.offset).toBe('11');
    const oldest = String(12 - records.length);
    expect(records[0]!.offset).toBe(oldest);
    const seen: string[] = [];
    const sub = await bus.subscribe({
      groupId: 'late',
      topics: [TOPICS.tasksLifecycle],
      handler: async (e) => void seen.push(e.key),
    });
    await eventually(() => seen.length === records.length);
    expect(seen[0]).toBe(oldest);
    await sub.stop();
  });

  it('refuses publishing after close', async () => {
    const bus = new MemoryBus();
    await bus.close();
    await expect(bus.publish([taskEvent().message])).rejects.toThrow(/closed/);
    await expect(bus.ping()).rejects.toThrow(/closed/);
  });
});
