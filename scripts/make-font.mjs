// Writes a small, valid TrueType font of our own ("xorigin Blocks"): every printable ASCII
// character is a framed block whose width grows with the character code, so text set in it is
// unmistakable and measurably wider or narrower than any fallback font. Generated rather than
// committed, so the repository ships no third-party font file.
//
//   node scripts/make-font.mjs example/fonts/xorigin-blocks.ttf
//
// Writes the same font as WOFF2 beside it (xorigin-blocks.woff2), with the null transform for every
// table (WOFF2 §5: glyf/loca transform version 3), so only Brotli is needed to encode it.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { brotliCompressSync, constants as zlib } from 'node:zlib';

const UPM = 1000;
const FIRST = 0x20;
const LAST = 0x7e;

class Writer {
  constructor() {
    this.bytes = [];
  }
  u8(v) {
    this.bytes.push(v & 0xff);
    return this;
  }
  u16(v) {
    return this.u8(v >> 8).u8(v);
  }
  i16(v) {
    return this.u16(v < 0 ? v + 0x10000 : v);
  }
  u32(v) {
    return this.u16(Math.floor(v / 0x10000) & 0xffff).u16(v & 0xffff);
  }
  tag(s) {
    for (const c of s) this.u8(c.charCodeAt(0));
    return this;
  }
  raw(buf) {
    for (const b of buf) this.u8(b);
    return this;
  }
  pad4() {
    while (this.bytes.length % 4) this.u8(0);
    return this;
  }
  get length() {
    return this.bytes.length;
  }
  buffer() {
    return Buffer.from(this.bytes);
  }
}

// Glyph 0: .notdef (empty), glyph 1: space, glyphs 2..: '!'..'~'.
const glyphs = [{ advance: 500, contours: [] }, { advance: 300, contours: [] }];
for (let c = FIRST + 1; c <= LAST; c++) {
  const w = 300 + ((c * 37) % 5) * 80; // 300..620: varied, deterministic widths
  const x0 = 60;
  const x1 = x0 + w;
  const t = 90; // stroke
  glyphs.push({
    advance: x1 + 60,
    contours: [
      // outer, clockwise
      [[x0, 0], [x0, 700], [x1, 700], [x1, 0]],
      // inner, counter-clockwise: a hole, so the block reads as a frame
      [[x0 + t, t], [x1 - t, t], [x1 - t, 700 - t], [x0 + t, 700 - t]],
    ],
  });
}

function glyphData(g) {
  const w = new Writer();
  if (g.contours.length === 0) return w.buffer();
  const pts = g.contours.flat();
  const xs = pts.map((p) => p[0]);
  const ys = pts.map((p) => p[1]);
  w.i16(g.contours.length).i16(Math.min(...xs)).i16(Math.min(...ys)).i16(Math.max(...xs)).i16(Math.max(...ys));
  let end = -1;
  for (const c of g.contours) w.u16((end += c.length));
  w.u16(0); // no instructions
  for (let i = 0; i < pts.length; i++) w.u8(0x01); // on-curve, 16-bit x and y deltas
  let px = 0;
  let py = 0;
  for (const [x] of pts) {
    w.i16(x - px);
    px = x;
  }
  for (const [, y] of pts) {
    w.i16(y - py);
    py = y;
  }
  return w.pad4().buffer();
}

const glyf = new Writer();
const offsets = [];
for (const g of glyphs) {
  offsets.push(glyf.length);
  glyf.raw(glyphData(g));
}
offsets.push(glyf.length);

const loca = new Writer();
for (const o of offsets) loca.u32(o);

const hmtx = new Writer();
for (const g of glyphs) hmtx.u16(g.advance).i16(g.contours.length ? 60 : 0);

const maxAdvance = Math.max(...glyphs.map((g) => g.advance));
const numGlyphs = glyphs.length;

const head = new Writer()
  .u32(0x00010000)
  .u32(0x00010000)
  .u32(0) // checkSumAdjustment, patched below
  .u32(0x5f0f3cf5)
  .u16(0x000b)
  .u16(UPM)
  .u32(0).u32(0) // created
  .u32(0).u32(0) // modified
  .i16(0).i16(0).i16(maxAdvance).i16(700)
  .u16(0) // macStyle
  .u16(8) // lowestRecPPEM
  .i16(2)
  .i16(1) // indexToLocFormat: long
  .i16(0);

const hhea = new Writer()
  .u32(0x00010000)
  .i16(800).i16(-200).i16(0)
  .u16(maxAdvance)
  .i16(0).i16(0).i16(maxAdvance)
  .i16(1).i16(0).i16(0)
  .i16(0).i16(0).i16(0).i16(0)
  .i16(0)
  .u16(numGlyphs);

// maxp 1.0: after maxContours come 11 uint16 fields; the third of them, maxZones, must be 2.
const maxp = new Writer().u32(0x00010000).u16(numGlyphs).u16(8).u16(2);
for (let i = 0; i < 11; i++) maxp.u16(i === 2 ? 2 : 0);

const os2 = new Writer()
  .u16(4)
  .i16(Math.round(glyphs.reduce((s, g) => s + g.advance, 0) / numGlyphs))
  .u16(400).u16(5).u16(0)
  .i16(650).i16(600).i16(0).i16(75)
  .i16(650).i16(600).i16(0).i16(350)
  .i16(50).i16(300)
  .i16(0)
  .raw(new Uint8Array(10))
  .u32(1).u32(0).u32(0).u32(0)
  .tag('NONE')
  .u16(0x0040)
  .u16(FIRST).u16(LAST)
  .i16(800).i16(-200).i16(0)
  .u16(800).u16(200)
  .u32(1).u32(0)
  .i16(500).i16(700).u16(0).u16(32).u16(0);

const names = {
  1: 'xorigin Blocks',
  2: 'Regular',
  3: 'xorigin Blocks Regular 1.0',
  4: 'xorigin Blocks Regular',
  5: 'Version 1.0',
  6: 'xoriginBlocks-Regular',
};
const nameStrings = new Writer();
const records = [];
for (const [id, text] of Object.entries(names)) {
  const utf16 = Buffer.from(text, 'utf16le').swap16();
  records.push({ id: Number(id), offset: nameStrings.length, length: utf16.length });
  nameStrings.raw(utf16);
}
const name = new Writer().u16(0).u16(records.length).u16(6 + records.length * 12);
for (const r of records) name.u16(3).u16(1).u16(0x409).u16(r.id).u16(r.length).u16(r.offset);
name.raw(nameStrings.buffer());

const post = new Writer().u32(0x00030000).u32(0).i16(-100).i16(50).u32(0).u32(0).u32(0).u32(0).u32(0);

// cmap: one format 4 subtable (Windows, Unicode BMP).
const segments = [
  { start: FIRST, end: LAST, delta: (1 - FIRST + 0x10000) % 0x10000 },
  { start: 0xffff, end: 0xffff, delta: 1 },
];
const segX2 = segments.length * 2;
const searchRange = 2 * 2 ** Math.floor(Math.log2(segments.length));
const sub = new Writer();
sub.u16(4).u16(16 + segments.length * 8).u16(0).u16(segX2).u16(searchRange).u16(Math.log2(searchRange / 2)).u16(segX2 - searchRange);
for (const s of segments) sub.u16(s.end);
sub.u16(0);
for (const s of segments) sub.u16(s.start);
for (const s of segments) sub.u16(s.delta);
for (const s of segments) sub.u16(0);
const cmap = new Writer().u16(0).u16(1).u16(3).u16(1).u32(12).raw(sub.buffer());

const tables = {
  'OS/2': os2.buffer(),
  cmap: cmap.buffer(),
  glyf: glyf.buffer(),
  head: head.buffer(),
  hhea: hhea.buffer(),
  hmtx: hmtx.buffer(),
  loca: loca.buffer(),
  maxp: maxp.buffer(),
  name: name.buffer(),
  post: post.buffer(),
};

function checksum(buf) {
  const padded = Buffer.concat([buf, Buffer.alloc((4 - (buf.length % 4)) % 4)]);
  let sum = 0;
  for (let i = 0; i < padded.length; i += 4) sum = (sum + padded.readUInt32BE(i)) >>> 0;
  return sum;
}

const tags = Object.keys(tables).sort();
const n = tags.length;
const entrySelector = Math.floor(Math.log2(n));
const dirSearchRange = 2 ** entrySelector * 16;
const font = new Writer().u32(0x00010000).u16(n).u16(dirSearchRange).u16(entrySelector).u16(n * 16 - dirSearchRange);
let offset = 12 + n * 16;
const layout = [];
for (const tag of tags) {
  const buf = tables[tag];
  font.tag(tag).u32(checksum(buf)).u32(offset).u32(buf.length);
  layout.push(buf);
  offset += Math.ceil(buf.length / 4) * 4;
}
for (const buf of layout) font.raw(buf).pad4();

const out = font.buffer();
const headOffset = out.indexOf(Buffer.from('head')) + 8;
const headStart = out.readUInt32BE(headOffset);
out.writeUInt32BE((0xb1b0afba - checksum(out) + 0x100000000) % 0x100000000, headStart + 8);

// WOFF2 (https://www.w3.org/TR/WOFF2/): header, table directory with known-tag indexes and
// UIntBase128 lengths, then one Brotli stream of the tables' bytes, unpadded, in directory order.
const KNOWN_TAGS = ['cmap', 'head', 'hhea', 'hmtx', 'maxp', 'name', 'OS/2', 'post', 'cvt ', 'fpgm', 'glyf', 'loca', 'prep'];

function uintBase128(v) {
  const bytes = [v & 0x7f];
  for (v = Math.floor(v / 128); v > 0; v = Math.floor(v / 128)) bytes.unshift((v & 0x7f) | 0x80);
  return bytes;
}

function toWoff2(sfnt, tableTags) {
  // loca must directly follow glyf in a WOFF2 directory.
  const order = tableTags.filter((t) => t !== 'loca');
  order.splice(order.indexOf('glyf') + 1, 0, 'loca');
  const dir = new Writer();
  const datas = [];
  let sfntSize = 12 + 16 * order.length;
  for (const tag of order) {
    const data = tables[tag];
    const known = KNOWN_TAGS.indexOf(tag);
    const nullTransform = tag === 'glyf' || tag === 'loca' ? 3 << 6 : 0;
    dir.u8((known === -1 ? 63 : known) | nullTransform);
    if (known === -1) dir.tag(tag);
    dir.raw(uintBase128(data.length));
    datas.push(data);
    sfntSize += Math.ceil(data.length / 4) * 4;
  }
  const compressed = brotliCompressSync(Buffer.concat(datas), {
    params: { [zlib.BROTLI_PARAM_MODE]: zlib.BROTLI_MODE_FONT, [zlib.BROTLI_PARAM_QUALITY]: 11 },
  });
  const directory = dir.buffer();
  const length = Math.ceil((48 + directory.length + compressed.length) / 4) * 4;
  const header = new Writer()
    .tag('wOF2')
    .u32(sfnt.readUInt32BE(0))
    .u32(length)
    .u16(order.length)
    .u16(0)
    .u32(sfntSize)
    .u32(compressed.length)
    .u16(1)
    .u16(0)
    .u32(0)
    .u32(0)
    .u32(0)
    .u32(0)
    .u32(0);
  const file = Buffer.alloc(length);
  Buffer.concat([header.buffer(), directory, compressed]).copy(file);
  return file;
}

const target = process.argv[2] ?? 'example/fonts/xorigin-blocks.ttf';
mkdirSync(dirname(target), { recursive: true });
writeFileSync(target, out);
const woff2 = toWoff2(out, tags);
const woff2Target = target.replace(/\.ttf$/, '') + '.woff2';
writeFileSync(woff2Target, woff2);
console.log(`wrote ${target} (${out.length} bytes, ${numGlyphs} glyphs) and ${woff2Target} (${woff2.length} bytes)`);
