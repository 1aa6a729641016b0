export * from './config';
export * from './shared';
export * from './transport';
export * from './accelerator';
