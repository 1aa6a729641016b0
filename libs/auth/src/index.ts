export * from './rbac';
export * from './principal';
export * from './api-keys';
export * from './jwt';
export * from './jwt-strategy';
export * from './internal-token';
export * from './express';
export * from './grpc';
