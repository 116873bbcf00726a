import type { OutgoingHttpHeader, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { equalsLower } from '../http/tokens.js';
import { appendVary, mergeVary } from './response-headers.js';

/** What writeHead takes after the status: a reason phrase and headers, or headers alone. */
type HeadersArgument = OutgoingHttpHeaders | OutgoingHttpHeader[] | undefined;
type WriteHead = (this: ServerResponse, statusCode: number, reason?: string | HeadersArgument, headers?: HeadersArgument) => ServerResponse;
type HeaderPair = readonly [OutgoingHttpHeader, OutgoingHttpHeader];

/**
 * Keeps `Vary: Origin` on a node:http (or http2 compatibility) response whatever is done to Vary
 * after the CORS headers were set (setHeader, removeHeader, writeHead(status, { Vary }), Fastify's
 * own header object): else a shared cache could hand one origin's answer to another (Fetch, "CORS
 * protocol and HTTP caches"). Done in writeHead, which node:http calls for an implicit head too.
 */
export class VaryGuard {
  /**
   * The writeHead guarded responses get as their own, and the Vary value it keeps: rebuilt when a
   * reconfigure changes that value, so a response decorated under the old policy keeps the old
   * policy's Vary (read at writeHead time, a swap to `*` in between sent an echoed origin without it).
   */
  private current: { readonly vary: string; readonly writeHead: WriteHead } | null = null;

  /**
   * Guards `res`, keeping `vary` (the policy's Vary value when `res` was decorated); a writeHead
   * another layer wrapped before us (on-headers does) is wrapped in turn.
   */
  keep(res: ServerResponse, vary: string): void {
    if (!Object.hasOwn(res, 'writeHead')) (res as { writeHead: unknown }).writeHead = this.writeHeadKeeping(vary);
    // Guarded twice (a handler mounted twice): its writeHead keeps Vary already.
    else if (!varyKeepers.has(res.writeHead as WriteHead)) wrapWriteHead(res, vary);
  }

  /** One function for every response of a policy (no closure per response on the common path). */
  private writeHeadKeeping(vary: string): WriteHead {
    if (this.current === null || this.current.vary !== vary) {
      const writeHead = guardedWriteHead(vary);
      varyKeepers.add(writeHead);
      directKeepers.add(writeHead);
      this.current = { vary, writeHead };
    }
    return this.current.writeHead;
  }
}

/**
 * Wraps a writeHead another layer set on `res`. Apart from keep: a closure there, over its parameter,
 * made V8 allocate its context on every call, on the common path too (review h50: 23-47 collections
 * per million actual requests in bench/alloc.js, against 0).
 */
function wrapWriteHead(res: ServerResponse, vary: string): void {
  const wrapped = res.writeHead as WriteHead;
  const keeper: WriteHead = function (this: ServerResponse, statusCode, reason, headers) {
    return sendHeadKeepingVary(this, wrapped, vary, statusCode, reason, headers);
  };
  varyKeepers.add(keeper);
  (res as { writeHead: WriteHead }).writeHead = keeper;
}

const varyKeepers = new WeakSet<WriteHead>();
/** The keepers that send the head through the prototype's writeHead (guardedWriteHead's). */
const directKeepers = new WeakSet<WriteHead>();

/**
 * Whether `res.writeHead` reads a flat `[name, value, …]` list as node's does: node's own (or
 * Express's, which inherits it), or a VaryGuard keeper over it: the writeHead in effect must be the
 * one definition on the prototype chain, walked once per prototype. Any other layer's wrapper gets
 * its headers set one by one instead: on-headers before 1.1.0 (CVE-2025-7339), which morgan,
 * compression, express-session and response-time of before mid-2025 put on every response,
 * reads such a list as [name, value] pairs, and a preflight behind it went out with `a: c`,
 * `h: t`… and no Access-Control-* header at all.
 */
export function takesFlatHeaders(res: ServerResponse): boolean {
  // The walk below, ~1,800 of a preflight's ~89,000 instructions, is done once per prototype: a
  // response of the prototype last found sound, whose writeHead in effect is still the one found
  // then, is sound too (a writeHead set since on its chain, or on the response, is another function).
  const proto = Object.getPrototypeOf(res) as object | null;
  const effective = res.writeHead;
  if (proto === soundPrototype && effective === soundWriteHead) return true;
  if (!walkFindsOneWriteHead(res)) return false;
  if (!directKeepers.has(effective as WriteHead)) {
    soundPrototype = proto;
    soundWriteHead = effective;
  }
  return true;
}

/** The prototype of the last response takesFlatHeaders walked and found sound, and its writeHead then. */
let soundPrototype: object | null = null;
let soundWriteHead: unknown = null;

function walkFindsOneWriteHead(res: ServerResponse): boolean {
  let at: object | null = res;
  if (Object.hasOwn(res, 'writeHead')) {
    if (!directKeepers.has(res.writeHead as WriteHead)) return false;
    at = Object.getPrototypeOf(res) as object | null; // the keeper calls its prototype's
  }
  // The writeHead in effect must be the one definition on the chain (node's): one an app set on a
  // prototype (Express's `app.response.writeHead = …`) shadows node's, as an own one does, and one
  // set in place of node's own on node:http's prototype is no longer node's (review h34).
  let definitions = 0;
  for (; at !== null; at = Object.getPrototypeOf(at) as object | null) {
    if (!Object.hasOwn(at, 'writeHead')) continue;
    if (++definitions > 1) return false;
    if (at === NODE_RESPONSE && !isNodeWriteHead(NODE_RESPONSE)) return false;
  }
  return true;
}

/** node:http's response prototype, as far as read here. */
interface NodeResponse {
  readonly writeHead: unknown;
  /** Node's deprecated alias (DEP0063), set to its writeHead when node:http loads. */
  readonly writeHeader: unknown;
}

/**
 * node:http's response prototype, and its writeHead as this module found it when loaded; null where
 * process.getBuiltinModule is missing (Node before 20.16, other runtimes). Not imported: xorigin/cors
 * loads no node: module (Workers, Deno, Bun).
 */
const NODE_RESPONSE = nodeResponsePrototype();
const NODE_WRITE_HEAD = NODE_RESPONSE?.writeHead;

function nodeResponsePrototype(): NodeResponse | null {
  const runtime = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  if (typeof runtime?.getBuiltinModule !== 'function') return null;
  const http = runtime.getBuiltinModule('node:http') as { ServerResponse?: { prototype: NodeResponse } } | undefined;
  return http?.ServerResponse?.prototype ?? null;
}

/**
 * Whether node:http's prototype still has node's own writeHead: the one found at load, and the one
 * its alias writeHeader names, which a wrapper set on writeHead before this module loaded leaves
 * (one found at load was taken for node's: review h34b).
 */
function isNodeWriteHead(proto: NodeResponse): boolean {
  return proto.writeHead === NODE_WRITE_HEAD && proto.writeHead === proto.writeHeader;
}

/**
 * A writeHead sending the head through the one it shadows (the prototype's: node's, Express's),
 * with Vary kept. It stays on the response: deleting it cost ~4,000 instructions per request, as
 * the response then fell into dictionary mode (bench/instructions.js --contenders xorigin-handle).
 */
function guardedWriteHead(vary: string): WriteHead {
  return function (this: ServerResponse, statusCode, reason, headers) {
    const shadowed = (Object.getPrototypeOf(this) as { writeHead: WriteHead }).writeHead;
    return sendHeadKeepingVary(this, shadowed, vary, statusCode, reason, headers);
  };
}

/** Calls `writeHead` with the tokens of `vary` put back in Vary if missing. */
function sendHeadKeepingVary(res: ServerResponse, writeHead: WriteHead, vary: string, statusCode: number, reason?: string | HeadersArgument, headers?: HeadersArgument): ServerResponse {
  if (res.headersSent) return writeHead.call(res, statusCode, reason, headers);
  if (typeof reason === 'string') return writeHead.call(res, statusCode, reason, varyKept(res, vary, headers));
  // As node's writeHead reads its arguments: with no reason phrase, the headers are the third
  // argument if given, else the second.
  return writeHead.call(res, statusCode, varyKept(res, vary, headers ?? reason));
}

/**
 * `headers` as writeHead will apply them, naming `vary` in Vary: unchanged when their one Vary
 * names it already (Fastify passes every head's headers, its Vary included), a copy when their
 * Vary lacks it (writeHead would replace the response's); with none, the response's own Vary is
 * completed. What writeHead itself refuses (an odd-length list, a Vary of null) passes unchanged.
 */
function varyKept(res: ServerResponse, vary: string, headers: HeadersArgument): HeadersArgument {
  const given = varyIn(headers);
  if (given === undefined) {
    if (res.getHeader('vary') !== vary) appendVary(res, vary);
    return headers;
  }
  if (given === vary || (typeof given === 'string' && mergeVary(given, vary) === given)) return headers;
  return withVaryMerged(res, headers, vary);
}

/**
 * The Vary value in writeHead's headers, found without allocating (every head passes here):
 * undefined for none, null for several entries or a list of pairs (read in full: see withVaryMerged).
 */
function varyIn(headers: HeadersArgument): unknown {
  if (headers === undefined || headers === null) return undefined;
  if (Array.isArray(headers) && Array.isArray(headers[0])) return null;
  let found: unknown;
  let count = 0;
  if (Array.isArray(headers)) {
    for (let i = 0; i < headers.length; i += 2) if (isVaryName(headers[i]) && count++ === 0) found = headers[i + 1];
  } else {
    for (const name in headers) if (isVaryName(name) && count++ === 0) found = headers[name];
  }
  return count > 1 ? null : found;
}

/**
 * A copy of `headers` (object, flat list or list of pairs) with its Vary entries merged into one
 * naming `vary`; pairs without Vary get the response's own, as node:http takes pairs only on a
 * response with no header set yet (node:http2's compatibility response would replace its Vary).
 */
function withVaryMerged(res: ServerResponse, headers: HeadersArgument, vary: string): HeadersArgument {
  let given: [OutgoingHttpHeader, OutgoingHttpHeader][] = [];
  if (Array.isArray(headers)) {
    // A flat [name, value, …] list, or (node:http2's compatibility API) a list of pairs.
    if (Array.isArray(headers[0])) given = headers as unknown as [OutgoingHttpHeader, OutgoingHttpHeader][];
    else if (headers.length % 2 !== 0) return headers;
    else for (let i = 0; i < headers.length; i += 2) given.push([headers[i] as OutgoingHttpHeader, headers[i + 1] as OutgoingHttpHeader]);
  } else if (headers !== undefined && headers !== null) {
    given = Object.entries(headers) as [OutgoingHttpHeader, OutgoingHttpHeader][];
  }
  const lines = given.filter(isVary);
  if (lines.some(([, v]) => v === undefined || v === null)) return headers;
  const own = lines.length === 0 ? res.getHeader('vary') : undefined;
  let merged: string | null = own === undefined ? null : Array.isArray(own) ? own.join(', ') : String(own);
  for (const [, value] of lines) merged = mergeVary(merged, Array.isArray(value) ? value.join(', ') : String(value));
  const out = given.filter((pair) => !isVary(pair));
  out.push(['Vary', mergeVary(merged, vary)]);
  if (!Array.isArray(headers)) return Object.fromEntries(out) as OutgoingHttpHeaders;
  return Array.isArray(headers[0]) ? (out as unknown as OutgoingHttpHeader[]) : out.flat();
}

function isVary([name]: HeaderPair): boolean {
  return isVaryName(name);
}

function isVaryName(name: unknown): boolean {
  return typeof name === 'string' && name.length === 4 && equalsLower(name, 'vary');
}
