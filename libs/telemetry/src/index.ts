export * from './logger';
export * from './tracing';
export * from './metrics';
export * from './http-tracing';
export * from './catalog';
export * from './platform-metrics';
export * from './module-host-metrics';
