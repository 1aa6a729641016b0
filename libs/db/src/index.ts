export * from './database';
export * from './migrate';
export * from './migration-check';
export { migrationChecksum, readMigrationFolder, type MigrationFile } from './migration-files';
export { MIGRATIONS_SCHEMA } from './migration-history';
export * from './services';
export * from './group-commit';
