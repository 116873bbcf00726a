/** Extension (lowercase, without the dot) to Content-Type. Fonts first: they are why xorigin exists. */
// A Map, not an object literal: an extension such as "constructor" or "__proto__" must not find
// Object.prototype's members (a file `x.constructor` once got a function as its Content-Type).
const TYPES: ReadonlyMap<string, string> = new Map(Object.entries({
  woff2: 'font/woff2',
  woff: 'font/woff',
  ttf: 'font/ttf',
  otf: 'font/otf',
  ttc: 'font/collection',
  // OpenType Collection: the same media type as .ttc (RFC 8081 §4.4.1 registers font/collection for both).
  otc: 'font/collection',
  eot: 'application/vnd.ms-fontobject',
  svg: 'image/svg+xml',
  css: 'text/css; charset=utf-8',
  html: 'text/html; charset=utf-8',
  htm: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  mjs: 'text/javascript; charset=utf-8',
  json: 'application/json',
  map: 'application/json',
  txt: 'text/plain; charset=utf-8',
  xml: 'application/xml',
  webmanifest: 'application/manifest+json',
  wasm: 'application/wasm',
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  webp: 'image/webp',
  avif: 'image/avif',
  ico: 'image/x-icon',
  mp4: 'video/mp4',
  webm: 'video/webm',
  mp3: 'audio/mpeg',
  ogg: 'audio/ogg',
  wav: 'audio/wav',
  pdf: 'application/pdf',
  zip: 'application/zip',
}));

const DEFAULT_TYPE = 'application/octet-stream';

/** The Content-Type for a file name; unknown extensions are served as opaque bytes (with nosniff). */
export function contentTypeFor(fileName: string): string {
  const dot = fileName.lastIndexOf('.');
  if (dot === -1 || dot === fileName.length - 1) return DEFAULT_TYPE;
  return TYPES.get(fileName.slice(dot + 1).toLowerCase()) ?? DEFAULT_TYPE;
}
