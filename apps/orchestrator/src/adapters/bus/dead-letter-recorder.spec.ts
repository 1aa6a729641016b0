import { createEvent, DLQ_HEADERS, dlqTopicOf, MemoryBus, TOPICS } from '@aion/events';
import { createLogger } from '@aion/telemetry';
import { eventually } from '@aion/testing';
import type { DeadLetterStore, NewDeadMessage } from '../../core/dead-letters';
import { startDeadLetterRecorder } from './dead-letter-recorder';

const logger = createLogger({ service: 'test', level: 'error' });

function deadLettered(tenantId: string) {
  const { envelope, message } = createEvent({
    type: 'task.state_changed',
    source: 'aion/test',
    key: 'task-1',
    tenantId,
    payload: { taskId: 'task-1', fromStatus: 1, toStatus: 2, intent: 'summarize' },
  });
  return {
    envelope,
    message: {
      ...message,
      topic: dlqTopicOf(TOPICS.tasksLifecycle),
      headers: {
        ...message.headers,
        [DLQ_HEADERS.error]: 'handler exploded',
        [DLQ_HEADERS.attempts]: '5',
        [DLQ_HEADERS.originalTopic]: TOPICS.tasksLifecycle,
        [DLQ_HEADERS.originalPartition]: '2',
        [DLQ_HEADERS.originalOffset]: '17',
        [DLQ_HEADERS.consumerGroup]: 'billing',
        [DLQ_HEADERS.failedAt]: 'not a date',
      },
    },
  };
}

describe('dead-letter recorder', () => {
  it('records a tenant dead letter as it was produced, and leaves one with no tenant in its topic', async () => {
    const recorded: NewDeadMessage[] = [];
    const store = { recordMessage: async (m: NewDeadMessage) => void recorded.push(m) };
    const bus = new MemoryBus();
    const subscription = await startDeadLetterRecorder({
      bus,
      store: store as unknown as DeadLetterStore,
      logger,
    });
    const orphan = deadLettered('');
    const owned = deadLettered('acme');
    await bus.publish([orphan.message, owned.message]);
    await eventually(() => recorded.length === 1);
    await subscription.stop();
    const [entry] = recorded;
    expect(entry).toMatchObject({
      ref: 'tasks.lifecycle/2/17@billing',
      errorMessage: 'handler exploded',
      retryCount: 5,
      payload: { event_id: owned.envelope.id, consumer_group: 'billing' },
      message: { topic: TOPICS.tasksLifecycle, key: 'task-1', eventId: owned.envelope.id },
    });
    // An unreadable failure time becomes the time it was recorded, not an invalid date.
    expect(Number.isNaN(entry!.failedAt.getTime())).toBe(false);
    expect(Object.keys(entry!.message.headers).some((h) => h.startsWith('aion-dlq-'))).toBe(false);
    expect(bus.records(dlqTopicOf(TOPICS.tasksLifecycle))).toHaveLength(2);
    await bus.close();
  });
});
