// Tables owned by the observability service (prefix `obs_`). drizzle-kit generates its migrations from here.
import { outboxTable, processedEventsTable } from '@aion/events';

export const outbox = outboxTable('obs');
export const processedEvents = processedEventsTable('obs');
