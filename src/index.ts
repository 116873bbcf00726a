// Public API. The CORS engine alone is also importable as 'xorigin/cors', without the file server.
export { Cors, createCors, compilePolicy, RequestKind, PolicyError } from './cors/node.js';
export type { CorsOptions, CompiledPolicy, PolicyProblem, NextFunction } from './cors/node.js';
export { createServer } from './static/server.js';
export type { XoriginServer } from './static/server.js';
export { DEFAULT_CACHE_CONTROL, IMMUTABLE_CACHE_CONTROL } from './static/options.js';
export type { ServerOptions } from './static/options.js';
