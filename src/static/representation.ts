import type { ServerResponse } from 'node:http';
import { setHeaderBlock, type ActualBlocks } from '../cors/response-headers.js';
import { ENCODINGS } from '../http/encoding.js';
import type { AssetInfo } from './asset-info.js';
import type { Variants } from './precompressed-siblings.js';
import type { BodySlot } from './body-cache.js';
import { Http2Response, type Http2Block } from './http2-exchange.js';

export const ALLOW = 'GET, HEAD, OPTIONS';

/**
 * A prebuilt `[name, value, ...]` header array and the indexes of its per-request origin slots;
 * `values`: indexes of other values set per response before it is written (a 206's Content-Range and
 * Content-Length); `h2` is the same block as HTTP/2 sends it, made on its first HTTP/2 response
 * (http2-exchange.ts).
 */
export interface Block {
  readonly h: string[];
  readonly slots: readonly number[];
  readonly values: readonly number[];
  h2: Http2Block | null;
  /**
   * A 206 block: the first and last byte its values describe now (-1 before the first 206). A range
   * asked again (a media element's `bytes=0-`, the same chunk from many clients) writes nothing:
   * the Content-Range built per response is a V8 cons string, which node:http's header check
   * could only test on V8's slow path (~1,200 instructions, callgrind); kept, it is flat.
   */
  rangeStart: number;
  rangeEnd: number;
}

/** A block whose per-response values (if any) are still to be set. */
export function newBlock(h: string[], slots: readonly number[], values: readonly number[]): Block {
  return { h, slots, values, h2: null, rangeStart: -1, rangeEnd: -1 };
}

/** Where a 206 block (Representation.partial) holds its range's values, set per response. */
export const CONTENT_RANGE_VALUE = 1;
export const CONTENT_LENGTH_VALUE = 3;
const RANGE_VALUES: readonly number[] = [CONTENT_RANGE_VALUE, CONTENT_LENGTH_VALUE];
const NO_VALUES: readonly number[] = [];

/**
 * A block per CORS variant: index 0 for a response to no Origin, a disallowed one, or any under
 * `*`; index 1 for an allowed origin (its slots are filled with that origin).
 */
export type Variant = 0 | 1;
export type Blocks = readonly [Block, Block];

/**
 * One representation of a file (the file itself or a precompressed sibling): the header blocks of
 * each outcome, each pair built on its first use and kept. Most files are only ever answered 200,
 * so building all four pairs up front cost ~3.6 KB per file served, 360 MB for a 100,000-file tree
 * once every file had been asked for once (measured with process.memoryUsage() after gc()).
 */
export class Representation {
  private okBlocks: Blocks | null = null;
  private notModifiedBlocks: Blocks | null = null;
  private partialBlocks: Blocks | null = null;
  private unsatisfiableBlocks: Blocks | null = null;
  /** This representation without Last-Modified, for while the clock is behind its date (see aheadOfClock). */
  private undatedCopy: Representation | null = null;

  /**
   * `info`: the bytes sent and their validators (for a sibling: the sibling file's). `memory`: its
   * body in memory, when held (see body-cache.ts).
   */
  constructor(
    readonly info: AssetInfo,
    readonly memory: BodySlot,
    private readonly contentType: string,
    private readonly encoding: string | null,
    private readonly negotiated: boolean,
    private readonly blocks: ResponseBlocks,
  ) {}

  get ok(): Blocks {
    if (this.aheadOfClock()) return this.undated().ok;
    return (this.okBlocks ??= this.both([...this.common(), 'Content-Length', String(this.info.size), ...this.validators()]));
  }

  get notModified(): Blocks {
    if (this.aheadOfClock()) return this.undated().notModified;
    return (this.notModifiedBlocks ??= this.both(this.validators()));
  }

  /**
   * A 206's headers, its Content-Range and Content-Length left blank at CONTENT_RANGE_VALUE and
   * CONTENT_LENGTH_VALUE: the response fills them in place, as it does the origin (no array per 206).
   */
  get partial(): Blocks {
    if (this.aheadOfClock()) return this.undated().partial;
    return (this.partialBlocks ??= this.both(['Content-Range', '', 'Content-Length', '', ...this.common(), ...this.validators()], RANGE_VALUES));
  }

  /**
   * True when this version's date is later than the clock's second, the one Date names: the clock
   * was set back since the version was dated (NTP, a restored VM). RFC 9110 §8.8.2.1 forbids a
   * Last-Modified later than Date, so none is sent until the clock gets there, as for a version not
   * dated yet (AssetInfo.undated); If-Modified-Since is still evaluated against the date. Versions
   * dated after the step are dated after what was served before it (asset-info.ts describe). The
   * dates are whole seconds, so "later than Date's second" is "later than now". One clock read per
   * answer (~55 ns: 2e7 calls timed with node -e), where a timer watching for steps would leave a
   * window after each.
   */
  private aheadOfClock(): boolean {
    return !this.info.undated && this.info.lastModified > Date.now();
  }

  private undated(): Representation {
    return (this.undatedCopy ??= new Representation({ ...this.info, undated: true }, this.memory, this.contentType, this.encoding, this.negotiated, this.blocks));
  }

  /** True for a precompressed sibling, whose answers say Content-Encoding (a layer such as compression() leaves those alone). */
  get contentCoded(): boolean {
    return this.encoding !== null;
  }

  /** A 416: no Content-Type or Content-Encoding, as it has no body of this representation. */
  get unsatisfiable(): Blocks {
    return (this.unsatisfiableBlocks ??= this.both(['Accept-Ranges', 'bytes', 'X-Content-Type-Options', 'nosniff', 'Cache-Control', 'no-store', 'Content-Range', `bytes */${this.info.size}`, 'Content-Length', '0']));
  }

  private common(): string[] {
    const h = ['Content-Type', this.contentType, 'Accept-Ranges', 'bytes', 'X-Content-Type-Options', 'nosniff'];
    if (this.encoding !== null) h.push('Content-Encoding', this.encoding);
    return h;
  }

  private validators(): string[] {
    // A version not dated yet has no Last-Modified to send (AssetInfo.undated).
    if (this.info.undated) return ['ETag', this.info.etag, 'Cache-Control', this.blocks.cacheControl];
    return ['ETag', this.info.etag, 'Last-Modified', this.info.lastModifiedText, 'Cache-Control', this.blocks.cacheControl];
  }

  private both(base: readonly string[], values?: readonly number[]): Blocks {
    return both(base, this.blocks.cors, this.negotiated, values);
  }
}

/** Per URL: the identity representation at index 0, precompressed siblings at their coding's index. */
export interface Entry {
  readonly reps: readonly (Representation | undefined)[];
  /** Bit set of `1 << coding` for the siblings present; 0 means no negotiation (and no Vary for it). */
  readonly available: number;
}

/** A prebuilt error answer: a short text body and its blocks. */
export interface ErrorAnswer {
  readonly body: string;
  readonly blocks: Blocks;
}

/** `negotiated`: the file has precompressed siblings, so all its responses vary on Accept-Encoding. */
function block(base: readonly string[], cors: ActualBlocks, variant: Variant, negotiated: boolean, values: readonly number[]): Block {
  const h = [...base, ...(variant === 1 ? cors.allowed : cors.other)];
  const vary = cors.vary !== null ? (negotiated ? `${cors.vary}, Accept-Encoding` : cors.vary) : negotiated ? 'Accept-Encoding' : null;
  if (vary !== null) h.push('Vary', vary);
  const slots = variant === 1 ? cors.originSlots.map((s) => s + base.length) : [];
  return newBlock(h, slots, values);
}

/** `values`: indexes in `base` of the values set per response (see Block). */
function both(base: readonly string[], cors: ActualBlocks, negotiated = false, values = NO_VALUES): Blocks {
  return [block(base, cors, 0, negotiated, values), block(base, cors, 1, negotiated, values)];
}

/** The same block with more headers after it (a redirect's Location): per request. */
export function extend(b: Block, ...extra: string[]): Block {
  return newBlock([...b.h, ...extra], b.slots, b.values);
}

/**
 * A copy of the block whose Cache-Control also says `no-transform` (RFC 9111 §5.2.2.6), for a 206
 * going through a layer that wrapped write: compression() encodes a range's bytes as any body, while
 * Content-Range still counts the file's (expressjs/compression#185), and honours no-transform.
 */
export function withNoTransform(b: Block): Block {
  return withField(b, 'Cache-Control', (value) => (value === undefined ? 'no-transform' : /(?:^|,)[ \t]*no-transform[ \t]*(?:,|$)/i.test(value) ? value : `${value}, no-transform`));
}

/**
 * A copy of the block whose ETag is weak (`W/"…"`), for a 200 or 304 going through a layer that wrapped
 * write: compression() gzips the body and keeps the ETag (expressjs/compression#45), and a strong
 * validator shared by the identity and the gzipped bytes claims they are the same bytes (RFC 9110
 * §8.8.1, §8.8.3); a weak one says only that they are equivalent, as nginx, Caddy and Django's
 * GZipMiddleware make it when they compress. If-None-Match compares weakly, so revalidation still hits.
 */
export function withWeakValidator(b: Block): Block {
  return withField(b, 'ETag', (value) => (value === undefined || value.startsWith('W/') ? value : `W/${value}`));
}

/**
 * A copy of the block (per request, for the rare responses that need one) whose field `name` (found
 * without case) has the value `change` gives for its value, or undefined when it has none: a field it
 * lacks is added when `change` gives one.
 */
function withField(b: Block, name: string, change: (value: string | undefined) => string | undefined): Block {
  const h = b.h.slice();
  const lower = name.toLowerCase();
  const at = h.findIndex((field, i) => i % 2 === 0 && field.toLowerCase() === lower);
  const value = change(at === -1 ? undefined : (h[at + 1] as string));
  if (value !== undefined && at === -1) h.push(name, value);
  else if (value !== undefined) h[at + 1] = value;
  return newBlock(h, b.slots, b.values);
}

/**
 * Writes a prebuilt block: fills the origin slots in place, then writeHead. Node copies the array
 * synchronously and keeps no reference, so one shared array serves every request.
 */
export function writeBlock(res: ServerResponse, status: number, b: Block, origin: string | undefined): void {
  if (res instanceof Http2Response) return res.writeBlock(status, b, origin);
  res.writeHead(status, filled(b, origin));
}

/**
 * writeBlock for a response whose writeHead another layer wrapped in a way that may misread a flat
 * list (takesFlatHeaders): the block's headers are set one by one, Vary merged with one set before
 * (the blocks name each header once), then writeHead gets the status alone.
 */
export function writeBlockByName(res: ServerResponse, status: number, b: Block, origin: string | undefined): void {
  setHeaderBlock(res, filled(b, origin));
  res.writeHead(status);
}

/** The block's array with the origin in its slots, filled in place. */
function filled(b: Block, origin: string | undefined): string[] {
  const h = b.h;
  const slots = b.slots;
  for (let i = 0; i < slots.length; i++) h[slots[i] as number] = origin as string;
  return h;
}

/**
 * Every header array the file server sends, built at start-up from the policy's CORS blocks (the
 * one source of CORS headers, cors/response-headers.ts) and the caching options.
 */
export class ResponseBlocks {
  readonly errors = new Map<number, ErrorAnswer>();
  /** An OPTIONS that is not a preflight: 204 with Allow. */
  readonly options: Blocks;
  /** A 308 to a directory's slash form (Location added per request). */
  readonly redirect: Blocks;

  /**
   * `redirectCacheControl`: a cached redirect outlives a directory's removal, so it gets a bounded
   * lifetime. `slotFor`: where a file version's body is held in memory, when it is.
   */
  constructor(
    readonly cors: ActualBlocks,
    readonly cacheControl: string,
    redirectCacheControl: string,
    private readonly slotFor: (info: AssetInfo) => BodySlot,
  ) {
    this.addError(400, 'Bad Request');
    this.addError(404, 'Not Found');
    this.addError(405, 'Method Not Allowed', ['Allow', ALLOW]);
    this.addError(408, 'Request Timeout');
    this.addError(412, 'Precondition Failed');
    this.addError(413, 'Payload Too Large');
    this.addError(500, 'Internal Server Error');
    this.addError(501, 'Not Implemented');
    this.addError(503, 'Service Unavailable', ['Retry-After', '1']);
    this.addError(505, 'HTTP Version Not Supported');
    this.options = both(['Allow', ALLOW], cors);
    this.redirect = both(['Content-Length', '0', 'Cache-Control', redirectCacheControl], cors);
  }

  /** The entry of one URL: its file and precompressed siblings, each with every outcome's blocks. */
  readonly entry = (info: AssetInfo, variants: Variants): Entry => {
    let available = 0;
    for (const { coding } of ENCODINGS) if (variants[coding] !== undefined) available |= 1 << coding;
    const negotiated = available !== 0;
    const reps: (Representation | undefined)[] = [this.representation(info, info.contentType, null, negotiated)];
    for (const { coding, name } of ENCODINGS) {
      const v = variants[coding];
      // A sibling carries the original's media type; its own bytes, length and ETag.
      if (v !== undefined) reps[coding] = this.representation(v, info.contentType, name, true);
    }
    return { reps, available };
  };

  private representation(info: AssetInfo, contentType: string, encoding: string | null, negotiated: boolean): Representation {
    return new Representation(info, this.slotFor(info), contentType, encoding, negotiated, this);
  }

  /** One small text body per status, sent in one write with the headers (see body-cache.ts TEXT_BODY_LIMIT). */
  private addError(status: number, text: string, extra: readonly string[] = []): void {
    const body = `${text}\n`;
    this.errors.set(status, { body, blocks: both([...errorFields(body), ...extra], this.cors) });
  }
}

/** The fields of every plain-text error answer, before its CORS headers: never cached, never sniffed. */
function errorFields(body: string): string[] {
  return ['Content-Type', 'text/plain; charset=utf-8', 'Content-Length', String(body.length), 'X-Content-Type-Options', 'nosniff', 'Cache-Control', 'no-store'];
}

/**
 * The raw text of a response for a request Node could not parse, with the CORS headers for
 * `origin` (one the policy allows, read from the raw head; undefined when unknown or refused:
 * then, under `*`, `Access-Control-Allow-Origin: *`, else Vary: Origin alone). An allowed origin is
 * a configured one or a match of the trie's strict host grammar, so it holds no CR, LF or other
 * byte that could break the head. `body`: ASCII text (its length is its size in bytes), the reason
 * phrase by default.
 */
export function rawErrorResponse(cors: ActualBlocks, status: number, reason: string, origin: string | undefined, body = `${reason}\n`): { text: string; bodyBytes: number } {
  const b = block(errorFields(body), cors, origin === undefined ? 0 : 1, false, NO_VALUES);
  const h = b.h;
  for (const slot of b.slots) h[slot] = origin as string;
  let fields = '';
  for (let i = 0; i < h.length; i += 2) fields += `${h[i] as string}: ${h[i + 1] as string}\r\n`;
  const text =
    `HTTP/1.1 ${status} ${reason}\r\nDate: ${new Date().toUTCString()}\r\n${fields}Connection: close\r\n\r\n${body}`;
  return { text, bodyBytes: body.length };
}
