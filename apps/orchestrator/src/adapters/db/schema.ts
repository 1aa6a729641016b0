// Tables owned by the orchestrator service (prefix `orc_`). drizzle-kit generates its migrations from here.
import { outboxTable, processedEventsTable } from '@aion/events';

export const outbox = outboxTable('orc');
export const processedEvents = processedEventsTable('orc');
