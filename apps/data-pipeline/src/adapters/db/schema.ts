// Tables owned by the data-pipeline service (prefix `dpl_`). drizzle-kit generates its migrations from here.
import { outboxTable, processedEventsTable } from '@aion/events';

export const outbox = outboxTable('dpl');
export const processedEvents = processedEventsTable('dpl');
