export * from './catalog';
export * from './envelope';
export * from './bus';
export * from './dedupe';
export * from './pipeline';
export * from './memory-bus';
export * from './kafka-bus';
export * from './outbox';
