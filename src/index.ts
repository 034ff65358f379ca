/**
 * Flotilla: a Multi-Raft key-value store that runs the same cluster in a browser tab, in Deno and in Node.
 */
export type * from './ports.ts';
export { nullLogger } from './ports.ts';
export type * from './transport/port.ts';
export * from './raft/index.ts';
export { createSeededRand } from './util/rand.ts';
export * from './errors.ts';
export * from './kv/index.ts';
export * from './region/index.ts';
export * from './client/index.ts';
export * from './store/index.ts';
export * from './codec/index.ts';
export * from './transport/index.ts';
export * from './pd/index.ts';
