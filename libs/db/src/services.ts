/** Each service owns its tables, named with its prefix; no service reads another's tables. */
export const SERVICE_TABLE_PREFIXES = {
  gateway: 'gw',
  orchestrator: 'orc',
  'sovereign-ai': 'sov',
  'data-pipeline': 'dpl',
  observability: 'obs',
  'module-host': 'mod',
} as const;

export type ServiceWithTables = keyof typeof SERVICE_TABLE_PREFIXES;
export type TablePrefix = (typeof SERVICE_TABLE_PREFIXES)[ServiceWithTables];

/** Where drizzle-kit writes a service's migrations, relative to the repository root. */
export function migrationsFolderOf(service: ServiceWithTables): string {
  return `apps/${service}/migrations`;
}
