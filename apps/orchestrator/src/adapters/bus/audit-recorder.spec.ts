import { createEvent, InvalidEventError, MemoryBus, type IncomingEvent } from '@aion/events';
import { createLogger } from '@aion/telemetry';
import type { AuditEntry, AuditLogStore, UsageEntry } from '../../core/audit-log';
import { LEDGER_WRITTEN_HEADER } from '../db/usage-ledger';
import { auditEntryFrom, startAuditRecorder, usageEntryFrom } from './audit-recorder';

function incoming(event: ReturnType<typeof createEvent>): IncomingEvent {
  return {
    envelope: event.envelope,
    topic: event.message.topic,
    partition: 0,
    offset: '0',
    key: event.message.key,
    value: event.message.value,
    headers: event.message.headers,
  };
}

const audit = (outcome: string, action = 'api_key.created') =>
  incoming(
    createEvent({
      type: 'audit.recorded',
      source: 'aion/gateway',
      key: 'k-1',
      tenantId: 'acme',
      correlationId: 'req-1',
      payload: {
        actor: 'key:alice',
        action,
        resourceType: 'api_key',
        resourceId: 'k-1',
        outcome,
        details: { role: 'developer' },
      },
    }),
  );

describe('audit recorder mapping', () => {
  it('keeps who, what, the outcome, the producing service and the request id of an audit event', () => {
    const event = audit('denied');
    expect(auditEntryFrom(event)).toEqual({
      eventId: event.envelope.id,
      occurredAt: expect.any(Date),
      actor: 'key:alice',
      action: 'api_key.created',
      resourceType: 'api_key',
      resourceId: 'k-1',
      outcome: 'denied',
      details: { role: 'developer' },
      source: 'aion/gateway',
      correlationId: 'req-1',
    });
  });

  it('refuses an unknown outcome or a missing action instead of guessing', () => {
    expect(() => auditEntryFrom(audit('maybe'))).toThrow(InvalidEventError);
    expect(() => auditEntryFrom(audit(''))).toThrow(InvalidEventError);
    expect(() => auditEntryFrom(audit('success', ''))).toThrow(InvalidEventError);
  });

  it('turns a usage event into a ledger row and refuses a negative cost', () => {
    const usage = (costUsd: number) =>
      incoming(
        createEvent({
          type: 'usage.recorded',
          source: 'aion/orchestrator',
          key: 't1',
          tenantId: 'acme',
          payload: {
            taskId: 't1',
            projectId: 'p1',
            engine: 'local-llama',
            usage: { inputTokens: 3, outputTokens: 4, costUsd, latencyMs: 9 },
          },
        }),
      );
    expect(usageEntryFrom(usage(0.5))).toMatchObject({
      taskId: 't1',
      projectId: 'p1',
      engine: 'local-llama',
      inputTokens: 3,
      outputTokens: 4,
      costUsd: 0.5,
      latencyMs: 9,
    });
    expect(() => usageEntryFrom(usage(-1))).toThrow(InvalidEventError);
    // An audit event is not usage.
    expect(() => usageEntryFrom(audit('success'))).toThrow(InvalidEventError);
  });
});

describe('the audit recorder', () => {
  it('records usage whose ledger row was not written with its task, and only that', async () => {
    const usage: UsageEntry[] = [];
    const audits: AuditEntry[] = [];
    const store = {
      recordAudit: async (entry: AuditEntry) => (audits.push(entry), true),
      recordUsage: async (entry: UsageEntry) => (usage.push(entry), true),
    } as unknown as AuditLogStore;
    const bus = new MemoryBus();
    const recorder = await startAuditRecorder({
      bus,
      store,
      logger: createLogger({ service: 'test', level: 'error' }),
      groupId: 'recorder-test',
    });
    const cost = (taskId: string, written: boolean) => {
      const event = createEvent({
        type: 'usage.recorded',
        source: 'aion/orchestrator',
        key: taskId,
        tenantId: 'acme',
        payload: { taskId, projectId: 'p1', engine: 'e', usage: { costUsd: 1 } },
      });
      if (written) event.message.headers[LEDGER_WRITTEN_HEADER] = 'true';
      return event.message;
    };
    await bus.publish([cost('with-the-task', true), cost('from-elsewhere', false)]);
    await bus.publish([auditMessage()]);
    // The marked event comes first on its topic: once the unmarked one is recorded, both were seen.
    for (let i = 0; i < 200 && (audits.length === 0 || usage.length === 0); i++)
      await new Promise((resolve) => setTimeout(resolve, 10));
    await recorder.stop();
    await bus.close();
    expect(audits).toHaveLength(1);
    expect(usage.map((u) => u.taskId)).toEqual(['from-elsewhere']);
  });
});

function auditMessage() {
  return createEvent({
    type: 'audit.recorded',
    source: 'aion/gateway',
    key: 'k-1',
    tenantId: 'acme',
    payload: { actor: 'a', action: 'x.y', resourceType: 'r', resourceId: '1', outcome: 'success' },
  }).message;
}
