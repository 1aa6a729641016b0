// Tables owned by the module-host service (prefix `mod_`). drizzle-kit generates its migrations from here.
import { outboxTable, processedEventsTable } from '@aion/events';

export const outbox = outboxTable('mod');
export const processedEvents = processedEventsTable('mod');
