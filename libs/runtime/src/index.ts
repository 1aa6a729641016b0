export * from './config';
export * from './infrastructure';
export * from './host';
export * from './bootstrap';
export * from './subscriptions';
export * from './transport';
