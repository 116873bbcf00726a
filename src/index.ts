// Public API. The CORS engine alone is also importable as 'xorigin/cors', without the file server.
export * from './cors/index.js';
export { createServer } from './static/server.js';
export type { XoriginServer, ServerStats } from './static/server.js';
export { DEFAULT_CACHE_CONTROL, IMMUTABLE_CACHE_CONTROL } from './static/options.js';
export type { ServerOptions } from './static/options.js';
