// Content-Type by extension (src/http/mime.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { contentTypeFor } from '../dist/http/mime.js';

const OCTET = 'application/octet-stream';
const table = [
  // the font types DESIGN.md names
  ['/a.woff2', 'font/woff2'],
  ['/a.woff', 'font/woff'],
  ['/a.ttf', 'font/ttf'],
  ['/a.otf', 'font/otf'],
  ['/a.ttc', 'font/collection'],
  ['/a.otc', 'font/collection'],
  ['/a.eot', 'application/vnd.ms-fontobject'],
  ['/a.svg', 'image/svg+xml'],
  ['/a.css', 'text/css; charset=utf-8'],
  ['/a.mjs', 'text/javascript; charset=utf-8'],
  ['/a.js', 'text/javascript; charset=utf-8'],
  ['/a.json', 'application/json'],
  ['/a.js.map', 'application/json'],
  ['/a.wasm', 'application/wasm'],
  ['/a.html', 'text/html; charset=utf-8'],
  ['/a.txt', 'text/plain; charset=utf-8'],
  // what else a cross-origin asset host serves: captions for <track crossorigin>, 3D models, media
  ['/captions/en.vtt', 'text/vtt; charset=utf-8'],
  ['/m/scene.gltf', 'model/gltf+json'],
  ['/m/scene.glb', 'model/gltf-binary'],
  ['/m/t.ktx2', 'image/ktx2'],
  ['/a.cjs', 'text/javascript; charset=utf-8'],
  ['/a.jsonld', 'application/ld+json'],
  ['/a.csv', 'text/csv; charset=utf-8'],
  ['/a.md', 'text/markdown; charset=utf-8'],
  ['/a.jxl', 'image/jxl'],
  ['/a.m4a', 'audio/mp4'],
  ['/a.flac', 'audio/flac'],
  ['/a.ogv', 'video/ogg'],
  // extensions are case-insensitive; only the last one counts
  ['/A.WOFF2', 'font/woff2'],
  ['/a.Css', 'text/css; charset=utf-8'],
  ['/a.tar.gz', OCTET],
  ['/a.woff2.br', OCTET], // a sidecar at its own URL is opaque bytes
  ['/a.css.gz', OCTET],
  // no extension, or a dot in a directory name only
  ['/README', OCTET],
  ['/a.', OCTET],
  ['/dir.css/file', OCTET],
  ['', OCTET],
  ['.', OCTET],
  // names that are properties of every JS object must not reach Object.prototype
  ['/a.constructor', OCTET],
  ['/a.__proto__', OCTET],
  ['/a.toString', OCTET],
  ['/a.hasOwnProperty', OCTET],
  ['/a.valueOf', OCTET],
];
for (const [name, expected] of table) {
  test(`contentTypeFor(${JSON.stringify(name)}) is ${expected}`, () => assert.equal(contentTypeFor(name), expected));
}
