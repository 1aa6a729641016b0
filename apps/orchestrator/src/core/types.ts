export type { Privacy } from './router';
export type { Classification } from './residency';
