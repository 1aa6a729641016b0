// Tables owned by the sovereign-ai service (prefix `sov_`). drizzle-kit generates its migrations from here.
import { outboxTable, processedEventsTable } from '@aion/events';

export const outbox = outboxTable('sov');
export const processedEvents = processedEventsTable('sov');
