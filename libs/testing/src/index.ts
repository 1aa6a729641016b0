export * from './postgres';
export * from './ids';
export * from './kafka';
