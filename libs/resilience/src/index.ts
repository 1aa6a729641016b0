export * from './breakers';
export * from './breaker-store';
export * from './retry';
export * from './policies';
export {
  wrap,
  BrokenCircuitError,
  BulkheadRejectedError,
  TaskCancelledError,
  isBrokenCircuitError,
} from 'cockatiel';
export * from './token-bucket';
