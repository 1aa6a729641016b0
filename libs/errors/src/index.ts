export * from './aion-error';
export * from './codes';
export * from './http';
export * from './grpc';
export * from './dependency';
