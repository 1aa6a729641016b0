export * from './database';
export * from './migrate';
export * from './services';
export * from './group-commit';
