import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { BigIntStats } from 'node:fs';
import type { Duplex } from 'node:stream';
import { resolve } from 'node:path';
import { AssetTable, sameIdentity, unchangedWhileOpen, type AssetInfo, type Variants } from './asset-table.js';
import { BufferPool } from './buffer-pool.js';
import { DiskBody, type DiskCounters } from './send-body.js';
import { hasEncodedSlash, targetPath } from '../http/request-target.js';
import { ENCODINGS, negotiateEncoding } from '../http/encoding.js';
import {
  evaluatePreconditions,
  ifRangeAllows,
  parseRange,
  Precondition,
} from '../http/conditional.js';
import { RequestKind } from '../cors/engine.js';
import { buildActualBlocks, type ActualBlocks } from '../cors/response-headers.js';
import { accessLine, noteArrival } from './access-log.js';
import { DEFAULT_CACHE_CONTROL, IMMUTABLE_CACHE_CONTROL, validate, type ServerOptions } from './options.js';

const ALLOW = 'GET, HEAD, OPTIONS';
/**
 * Files read from disk go out in chunks of this size, each one positioned read into a pooled buffer
 * and one socket write. Measured on a 1 MB font (32 connections): 2x the requests/s of
 * fs.createReadStream with the same chunk size (a stream adds a pause, a drain and a fresh buffer
 * per chunk), and resident memory at 72 MB instead of 140 MB. 1 MiB chunks were another 15% faster
 * but held 95 MB.
 */
const DISK_CHUNK = 256 * 1024;
/** Pooled chunk buffers (so at most 16 MiB held); past it, files stream with 64 KiB reads. */
const DISK_BUFFERS = 64;
/**
 * In-memory bodies up to this size are also kept as latin1 strings: node:http joins a string body
 * to the header string and writes one chunk, where a Buffer goes out as a chunk of its own
 * (measured: 8% more requests/s for a 1-byte body; for a 30 KB one copying the string costs more).
 */
const TEXT_BODY_LIMIT = 4 * 1024;

/** A prebuilt header array and the indexes of its per-request origin slots. */
interface Block {
  readonly h: string[];
  readonly slots: readonly number[];
}

/** One representation of a file (the file itself or a precompressed sibling): blocks per outcome and CORS variant (0: not allowed / plain / `*`; 1: allowed origin). */
interface Representation {
  /** The bytes sent and their validators (for a sibling: the sibling file's). */
  readonly info: AssetInfo;
  readonly ok: readonly [Block, Block];
  readonly notModified: readonly [Block, Block];
  /** Everything a 206 carries besides Content-Range/Length. */
  readonly partial: readonly [Block, Block];
  /** A 416: no Content-Type or Content-Encoding, as it has no body of this representation. */
  readonly unsatisfiable: readonly [Block, Block];
  /** A small in-memory body as a latin1 string (byte for byte), else null. */
  readonly text: string | null;
}

/** Per URL: the identity representation at index 0, precompressed siblings at their coding's index. */
interface Entry {
  readonly reps: readonly (Representation | undefined)[];
  /** Bit set of `1 << coding` for the siblings present; 0 means no negotiation (and no Vary for it). */
  readonly available: number;
}

/** `negotiated`: the file has precompressed siblings, so all its responses vary on Accept-Encoding. */
function block(base: readonly string[], parts: ActualBlocks, variant: 0 | 1, negotiated: boolean): Block {
  const tail = variant === 1 ? parts.allowed : parts.other;
  const h = [...base, ...tail];
  const vary = parts.vary !== null ? (negotiated ? `${parts.vary}, Accept-Encoding` : parts.vary) : negotiated ? 'Accept-Encoding' : null;
  if (vary !== null) h.push('Vary', vary);
  const slots = variant === 1 ? parts.originSlots.map((s) => s + base.length) : [];
  return { h, slots };
}

function both(base: readonly string[], parts: ActualBlocks, negotiated = false): readonly [Block, Block] {
  return [block(base, parts, 0, negotiated), block(base, parts, 1, negotiated)];
}

/** A node:http server serving a directory with xorigin's CORS, caching and range handling. */
export interface XoriginServer extends Server {
  /** The asset table's root, resolved. */
  readonly root: string;
  /**
   * Stops listening, lets in-flight responses finish (up to `graceMs`, default 10 s), then closes
   * what is left. `close(cb)` does the same with the default deadline.
   */
  shutdown(graceMs?: number): Promise<void>;
  /** What the server holds right now; every count returns to 0 when no response is in flight. */
  readonly stats: ServerStats;
}

export interface ServerStats {
  /** Responses begun and not yet ended (finished, aborted, or dropped with their connection). */
  readonly inFlight: number;
  /** File descriptors open for bodies read from disk. */
  readonly openFiles: number;
  /** Pooled read buffers lent to responses. */
  readonly buffersInUse: number;
}

/**
 * Validates the options, scans the root and returns a node:http server ready to `listen`.
 * Rejects with a PolicyError listing every problem when the options are invalid.
 */
export async function createServer(options: ServerOptions): Promise<XoriginServer> {
  const config = validate(options);
  const cors = config.cors;
  const policy = cors.policy;
  const root = resolve(config.root);
  const cacheControl = config.cacheControl;
  const parts = buildActualBlocks(policy, { crossOriginResourcePolicy: config.crossOriginResourcePolicy });
  const log = config.log;

  const buildRep = (info: AssetInfo, contentType: string, encoding: string | null, negotiated: boolean): Representation => {
    const validators = ['ETag', info.etag, 'Last-Modified', info.lastModifiedText, 'Cache-Control', cacheControl];
    const common = ['Content-Type', contentType, 'Accept-Ranges', 'bytes', 'X-Content-Type-Options', 'nosniff'];
    if (encoding !== null) common.push('Content-Encoding', encoding);
    return {
      info,
      ok: both([...common, 'Content-Length', String(info.size), ...validators], parts, negotiated),
      notModified: both(validators, parts, negotiated),
      partial: both([...common, ...validators], parts, negotiated),
      unsatisfiable: both(['Accept-Ranges', 'bytes', 'X-Content-Type-Options', 'nosniff', 'Cache-Control', 'no-store', 'Content-Range', `bytes */${info.size}`, 'Content-Length', '0'], parts, negotiated),
      text: info.body !== null && info.body.length <= TEXT_BODY_LIMIT ? info.body.toString('latin1') : null,
    };
  };

  const buildEntry = (info: AssetInfo, variants: Variants): Entry => {
    let available = 0;
    for (const { coding } of ENCODINGS) if (variants[coding] !== undefined) available |= 1 << coding;
    const negotiated = available !== 0;
    const reps: (Representation | undefined)[] = [buildRep(info, info.contentType, null, negotiated)];
    for (const { coding, name } of ENCODINGS) {
      const v = variants[coding];
      // A sibling carries the original's media type; its own bytes, length and ETag.
      if (v !== undefined) reps[coding] = buildRep(v, info.contentType, name, true);
    }
    return { reps, available };
  };

  const table = new AssetTable<Entry>(root, { smallFileLimit: config.smallFileLimit, watch: config.watch }, buildEntry);
  await table.open();

  // Error responses: one small text body per status, prebuilt per CORS variant.
  // The bodies are ASCII strings, sent in one write with the headers (see TEXT_BODY_LIMIT).
  const errorBlocks = new Map<number, { body: string; blocks: readonly [Block, Block] }>();
  const errorBody = (status: number, text: string, extra: readonly string[] = []): void => {
    const body = `${text}\n`;
    const base = ['Content-Type', 'text/plain; charset=utf-8', 'Content-Length', String(body.length), 'X-Content-Type-Options', 'nosniff', 'Cache-Control', 'no-store', ...extra];
    errorBlocks.set(status, { body, blocks: both(base, parts) });
  };
  errorBody(400, 'Bad Request');
  errorBody(404, 'Not Found');
  errorBody(405, 'Method Not Allowed', ['Allow', ALLOW]);
  errorBody(412, 'Precondition Failed');
  errorBody(500, 'Internal Server Error');
  const optionsBlocks = both(['Allow', ALLOW], parts);
  // A cached redirect outlives a directory's removal, so it never gets a year-long immutable lifetime.
  const redirectCache = config.cacheControl === IMMUTABLE_CACHE_CONTROL ? DEFAULT_CACHE_CONTROL : config.cacheControl;
  const redirectBlocks = both(['Content-Length', '0', 'Cache-Control', redirectCache], parts);

  /** 308 to the same target with a slash after the path (the query kept). */
  const redirect = (res: ServerResponse, url: string, encodedPath: string, origin: string | undefined): void => {
    const q = url.indexOf('?');
    const location = `${encodedPath}/${q === -1 ? '' : url.slice(q)}`;
    const b = redirectBlocks[variantOf(origin)];
    writeBlock(res, 308, { h: [...b.h, 'Location', location], slots: b.slots }, origin);
    res.end();
  };

  /** 1 when the request's origin is allowed (its slots must be filled), else 0. */
  const variantOf = (origin: string | undefined): 0 | 1 => (policy.anyOrigin || origin === undefined || !cors.allows(origin) ? 0 : 1);

  /** Writes a prebuilt block: fills the origin slots in place (Node copies the array synchronously). */
  const writeBlock = (res: ServerResponse, status: number, b: Block, origin: string | undefined): void => {
    const h = b.h;
    const slots = b.slots;
    for (let i = 0; i < slots.length; i++) h[slots[i] as number] = origin as string;
    res.writeHead(status, h);
  };

  /** An unexpected failure: a 500 if nothing has been sent yet, else the connection is cut. */
  const fail = (res: ServerResponse, origin: string | undefined): void => {
    if (!res.headersSent) sendError(res, 500, origin);
    else res.destroy();
  };

  const sendError = (res: ServerResponse, status: number, origin: string | undefined): void => {
    const e = errorBlocks.get(status) as { body: string; blocks: readonly [Block, Block] };
    writeBlock(res, status, e.blocks[variantOf(origin)], origin);
    res.end(e.body, 'latin1');
  };

  let inFlight = 0;
  let stopping = false;
  const counters: DiskCounters = { openFiles: 0 };
  const diskBuffers = new BufferPool(DISK_CHUNK, DISK_BUFFERS);
  let idleResolve: (() => void) | null = null;
  /** A response has ended, one way or another: called exactly once per response. */
  const responseDone = (res: ServerResponse): void => {
    if (--inFlight === 0 && idleResolve !== null) idleResolve();
    if (log !== undefined) log(accessLine(res.req, res, config.logFormat));
  };
  // One shared listener (it reads the response from `this`) instead of a closure per request.
  function onResponseClose(this: ServerResponse): void {
    responseDone(this);
  }

  /** Status line and headers of a 200 or 206 (Content-Range and Content-Length built for the range). */
  const writeFileHead = (res: ServerResponse, rep: Representation, variant: 0 | 1, origin: string | undefined, status: number, start: number, end: number): void => {
    if (status === 200) {
      writeBlock(res, 200, rep.ok[variant], origin);
      return;
    }
    const b = rep.partial[variant];
    writeBlock(res, 206, { h: [...b.h, 'Content-Range', `bytes ${start}-${end}/${rep.info.size}`, 'Content-Length', String(end - start + 1)], slots: b.slots }, origin);
  };

  /**
   * Everything up to the body is synchronous: a file kept in memory is answered without a promise
   * or a timer; only a large file goes on to the asynchronous disk path.
   */
  const serveFile = (req: IncomingMessage, res: ServerResponse, path: string, entry: Entry, origin: string | undefined, variant: 0 | 1, retried: boolean): void => {
    const rep = (entry.available === 0 ? entry.reps[0] : entry.reps[negotiateEncoding(req.headers['accept-encoding'], entry.available)]) as Representation;
    const info = rep.info;
    const headers = req.headers;
    const pre = evaluatePreconditions(headers, info);
    if (pre === Precondition.NotModified) {
      writeBlock(res, 304, rep.notModified[variant], origin);
      res.end();
      return;
    }
    if (pre === Precondition.Failed) {
      sendError(res, 412, origin);
      return;
    }
    let start = 0;
    let end = info.size - 1;
    let status = 200;
    const range = headers.range;
    // Ranges are defined for GET only (RFC 9110 §14.2): HEAD with Range answers 200.
    if (range !== undefined && req.method === 'GET' && ifRangeAllows(headers['if-range'] as string | undefined, info)) {
      const r = parseRange(range, info.size);
      if (r === 'unsatisfiable') {
        writeBlock(res, 416, rep.unsatisfiable[variant], origin);
        res.end();
        return;
      }
      if (r !== 'ignore') {
        start = r.start;
        end = r.end;
        status = 206;
      }
    }
    if (rep.text !== null) {
      writeFileHead(res, rep, variant, origin, status, start, end);
      // latin1: byte for byte, and joined to the headers in one chunk (see TEXT_BODY_LIMIT).
      res.end(status === 200 ? rep.text : rep.text.slice(start, end + 1), 'latin1');
      return;
    }
    if (info.body !== null) {
      writeFileHead(res, rep, variant, origin, status, start, end);
      res.end(status === 200 ? info.body : info.body.subarray(start, end + 1));
      return;
    }
    serveFromDisk(req, res, path, rep, origin, variant, retried, status, start, end);
  };

  /**
   * A large file, read from disk by a DiskBody. A response queued behind another on a pipelining
   * connection starts only once it is at the head of its socket (see DiskBody for why).
   */
  const serveFromDisk = (req: IncomingMessage, res: ServerResponse, path: string, rep: Representation, origin: string | undefined, variant: 0 | 1, retried: boolean, status: number, start: number, end: number): void => {
    const info = rep.info;
    const body = new DiskBody(res, {
      filePath: info.filePath,
      describes: (s: BigIntStats, open: boolean) => (open ? unchangedWhileOpen(info.identity, s) : sameIdentity(info.identity, s)),
      start,
      end,
      headOnly: req.method === 'HEAD' || end < start,
      writeHead: () => writeFileHead(res, rep, variant, origin, status, start, end),
      stale: () => {
        // The file changed or vanished since the scan: rescan, then answer from the new table once.
        table.rescan().then(() => {
          if (res.destroyed) return;
          const again = table.get(path);
          if (again === undefined || retried) sendError(res, 404, origin);
          else serveFile(req, res, path, again, origin, variant, true);
        }, () => fail(res, origin));
      },
    }, diskBuffers, counters);
    if (res.socket !== null) body.start();
    else res.once('socket', () => body.start());
  };

  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    inFlight++;
    res.on('close', onResponseClose);
    if (res.socket === null) {
      // Queued behind another response on a pipelining connection: if the socket closes first,
      // Node emits no 'close' for this response, only for its request.
      req.once('close', () => {
        if (!res.closed) {
          res.off('close', onResponseClose);
          responseDone(res);
        }
      });
    }
    // The peer address is read now: once the socket has closed it is gone.
    if (log !== undefined) noteArrival(req, res);
    // Shutting down: tell keep-alive clients to reconnect (elsewhere) instead of being cut later.
    if (stopping) res.shouldKeepAlive = false;
    try {
      route(req, res);
    } catch {
      // A bug must cost one response, not the process.
      fail(res, req.headers.origin);
    }
  };

  const route = (req: IncomingMessage, res: ServerResponse): void => {
    const origin = req.headers.origin;
    const method = req.method;
    if (method === 'OPTIONS') {
      if (cors.classify(req) === RequestKind.Preflight) {
        cors.handle(req, res);
        return;
      }
      writeBlock(res, 204, optionsBlocks[variantOf(origin)], origin);
      res.end();
      return;
    }
    if (method !== 'GET' && method !== 'HEAD') {
      sendError(res, 405, origin);
      return;
    }
    const url = req.url ?? '';
    const encoded = targetPath(url);
    if (encoded === null) {
      sendError(res, 400, origin);
      return;
    }
    let path = encoded;
    if (path.includes('%')) {
      if (hasEncodedSlash(path)) {
        sendError(res, 404, origin);
        return;
      }
      try {
        path = decodeURIComponent(path);
      } catch {
        sendError(res, 400, origin);
        return;
      }
    }
    const entry = table.get(path);
    if (entry === undefined) {
      // A directory named without its slash, as nginx, serve-static and Caddy do: 308 to `dir/`
      // (relative links in its index resolve against the slash).
      if (path.charCodeAt(path.length - 1) !== 47 && table.get(`${path}/`) !== undefined) redirect(res, url, encoded, origin);
      else sendError(res, 404, origin);
      return;
    }
    serveFile(req, res, path, entry, origin, variantOf(origin), false);
  };

  const server = createHttpServer(handler) as XoriginServer;
  // Slow or stalled clients must not hold sockets forever.
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  server.keepAliveTimeout = config.keepAliveTimeout;
  // The send timeout: Node measures socket inactivity (no read, no completed write) and, with no
  // 'timeout' listener, destroys the socket, which closes the response and releases what it held.
  server.timeout = config.sendTimeout;
  server.on('clientError', answerClientError(parts));
  Object.defineProperty(server, 'root', { value: root });
  Object.defineProperty(server, 'stats', {
    get: (): ServerStats => ({ inFlight, openFiles: counters.openFiles, buffersInUse: diskBuffers.inUse }),
  });
  server.on('close', () => table.close());
  // close() is made graceful too: Node 20's own close() drops connections it deems idle, which has
  // been seen to cut a response still flushing a large buffer. Stop accepting, let in-flight
  // responses finish (or the deadline pass), then close what is left.
  const nativeClose = server.close.bind(server);
  const gracefulClose = (graceMs: number, callback?: (err?: Error) => void): void => {
    stopping = true;
    nativeClose(callback);
    const finish = (): void => {
      server.closeAllConnections();
    };
    if (inFlight === 0) finish();
    else {
      idleResolve = finish;
      setTimeout(finish, graceMs).unref();
    }
  };
  server.shutdown = (graceMs = 10_000) => new Promise<void>((done) => gracefulClose(graceMs, () => done()));
  server.close = (callback?: (err?: Error) => void) => {
    gracefulClose(10_000, callback);
    return server;
  };
  return server;
}

/** Node's own statuses for a request it could not parse (see its default clientError handler). */
const CLIENT_ERRORS: Readonly<Record<string, readonly [number, string]>> = {
  HPE_HEADER_OVERFLOW: [431, 'Request Header Fields Too Large'],
  HPE_CHUNK_EXTENSIONS_OVERFLOW: [413, 'Payload Too Large'],
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'Request Timeout'],
};

/**
 * Answers a request Node could not parse (400, 431, 413, 408) ourselves, with the CORS headers the
 * policy gives every response: Node's own answer has none, so a browser would report a CORS error
 * and hide the status. The origin of an unparsed request is unknown, so only the part that does
 * not depend on it is sent (under `*`: `Access-Control-Allow-Origin: *`; otherwise Vary: Origin).
 */
function answerClientError(parts: ActualBlocks): (err: NodeJS.ErrnoException, socket: Duplex) => void {
  const cors = block([], parts, 0, false).h;
  let fields = '';
  for (let i = 0; i < cors.length; i += 2) fields += `${cors[i] as string}: ${cors[i + 1] as string}\r\n`;
  return (err, socket) => {
    // Node's check: never write into a response already under way on this socket.
    const current = (socket as Duplex & { _httpMessage?: ServerResponse | null })._httpMessage;
    if (err.code === 'ECONNRESET' || !socket.writable || (current != null && current.headersSent)) {
      socket.destroy();
      return;
    }
    const [status, reason] = CLIENT_ERRORS[err.code ?? ''] ?? [400, 'Bad Request'];
    const body = `${reason}\n`;
    socket.end(
      `HTTP/1.1 ${status} ${reason}\r\nDate: ${new Date().toUTCString()}\r\nContent-Type: text/plain; charset=utf-8\r\n` +
        `Content-Length: ${body.length}\r\nX-Content-Type-Options: nosniff\r\nCache-Control: no-store\r\n${fields}Connection: close\r\n\r\n${body}`,
      () => socket.destroy(),
    );
  };
}
