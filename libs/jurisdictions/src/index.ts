export * from './iso3166';
export * from './regions';
export * from './registry';
