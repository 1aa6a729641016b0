export * from './postgres';
export * from './ids';
