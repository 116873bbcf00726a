// Public API: the engine and the file server. Each face is also importable alone (package.json
// "exports"): 'xorigin/cors' (the engine, without the file server), 'xorigin/fetch', 'xorigin/fastify'
// (its Fetch-API and Fastify adapters), 'xorigin/static' (the file server) and 'xorigin/check'.
export * from './cors/index.js';
export * from './static/index.js';
