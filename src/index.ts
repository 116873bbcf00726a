// Public API. Each face is also importable alone: 'xorigin/cors' (the engine, without the file
// server) and 'xorigin/static' (the file server).
export * from './cors/index.js';
export * from './static/index.js';
