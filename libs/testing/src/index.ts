export * from './postgres';
export * from './ids';
export * from './kafka';
export * from './services';
export * from './grpc-health';
export * from './openai-server';
export * from './http';
