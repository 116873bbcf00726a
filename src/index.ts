// Public API. The CORS engine alone is also importable as 'xorigin/cors', without the file server.
export { Cors, createCors, compilePolicy, RequestKind, PolicyError } from './cors.js';
export type { CorsOptions, CompiledPolicy, PolicyProblem, NextFunction } from './cors.js';
export { createServer } from './server.js';
export type { XoriginServer } from './server.js';
export { DEFAULT_CACHE_CONTROL, IMMUTABLE_CACHE_CONTROL } from './server-options.js';
export type { ServerOptions } from './server-options.js';
