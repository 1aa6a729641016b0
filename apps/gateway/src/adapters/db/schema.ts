// Tables owned by the gateway service (prefix `gw_`). drizzle-kit generates its migrations from here.
import { outboxTable, processedEventsTable } from '@aion/events';

export const outbox = outboxTable('gw');
export const processedEvents = processedEventsTable('gw');
