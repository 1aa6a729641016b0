export * from './types';
export * from './deadline';
export * from './server';
export * from './client';
export * from './pagination';
export * from './tls';
