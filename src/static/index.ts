// `xorigin/static`: the file server, as a mountable handler or a ready node:http server.
export { createStaticHandler, type StaticHandler, type StaticStats, type Next } from './handler.js';
export { serve, type XoriginServer, type ServerStats } from './server.js';
export type { ReloadReport } from './reload.js';
export type { ScanReport } from './asset-table.js';
export type { TlsFiles } from './tls.js';
export type { LogFormat } from './access-log.js';
export { DEFAULT_CACHE_CONTROL, IMMUTABLE_CACHE_CONTROL, type ServerOptions } from './options.js';
export type * from '../cors/public-types.js';
