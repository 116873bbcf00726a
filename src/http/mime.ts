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
  xhtml: 'application/xhtml+xml',
  js: 'text/javascript; charset=utf-8',
  mjs: 'text/javascript; charset=utf-8',
  cjs: 'text/javascript; charset=utf-8',
  json: 'application/json',
  map: 'application/json',
  jsonld: 'application/ld+json',
  txt: 'text/plain; charset=utf-8',
  csv: 'text/csv; charset=utf-8',
  md: 'text/markdown; charset=utf-8',
  // WebVTT captions: a cross-origin <track> is fetched in CORS mode, and a browser refuses another type.
  vtt: 'text/vtt; charset=utf-8',
  xml: 'application/xml',
  atom: 'application/atom+xml',
  rss: 'application/rss+xml',
  webmanifest: 'application/manifest+json',
  wasm: 'application/wasm',
  png: 'image/png',
  apng: 'image/apng',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  webp: 'image/webp',
  avif: 'image/avif',
  jxl: 'image/jxl',
  bmp: 'image/bmp',
  ico: 'image/x-icon',
  ktx2: 'image/ktx2',
  // 3D models, loaded cross-origin by fetch() (three.js, model-viewer) like fonts.
  gltf: 'model/gltf+json',
  glb: 'model/gltf-binary',
  mp4: 'video/mp4',
  webm: 'video/webm',
  ogv: 'video/ogg',
  mov: 'video/quicktime',
  mp3: 'audio/mpeg',
  m4a: 'audio/mp4',
  aac: 'audio/aac',
  flac: 'audio/flac',
  ogg: 'audio/ogg',
  oga: 'audio/ogg',
  opus: 'audio/ogg',
  weba: 'audio/webm',
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
