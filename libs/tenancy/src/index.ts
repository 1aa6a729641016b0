export * from './context';
export * from './propagation';
export * from './rls';
