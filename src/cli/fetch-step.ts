// The command's network side: sends one request as the browser would put it on the wire, over the
// protocol a browser would use (HTTPS: HTTP/2 when the server offers it by ALPN, else HTTP/1.1; plain
// HTTP: HTTP/1.1), with a bounded timeout, and returns the status, header fields and protocol.
import http from 'node:http';
import type { ClientHttp2Stream, IncomingHttpHeaders } from 'node:http2';
import https from 'node:https';
import { isIP } from 'node:net';
import type { Readable } from 'node:stream';
import tls, { type TLSSocket } from 'node:tls';
import { CheckInputError, type OutgoingRequest, type ServerResponse } from '../check/index.js';
import { explainNetworkFailure } from './network-failure.js';

/** A network failure, said in one line (exit 2). `code`: the system's (`ECONNREFUSED`, a TLS one), `timeout` or `deadline`. */
export class NetworkError extends Error {
  constructor(message: string, readonly code?: string) {
    super(message);
    this.name = 'NetworkError';
  }
}

const BODY_LIMIT = 1 << 20;
/**
 * The most response header bytes read, as Chromium reads HTTP/1.1 (256 KiB, past which it fails the
 * request with ERR_RESPONSE_HEADERS_TOO_BIG); node:http's default, 16 KiB, failed answers both
 * browsers accept (a preflight listing a few thousand header names).
 */
export const HEADER_LIMIT = 256 * 1024;

/** One exchange's end: settled once, by an answer or a failure, its timer cleared either way. */
interface Exchange {
  readonly url: URL;
  readonly req: OutgoingRequest;
  /** The request's fields by lower-case name, as written (repeated names keep their order). */
  readonly fields: Map<string, { name: string; values: string[] }>;
  answer: (response: ServerResponse) => void;
  fail: (e: Error & { code?: string }) => void;
  /** Called on timeout, to release the connection. */
  onTimeout: () => void;
}

/**
 * Sends `req` and resolves the response's status, raw header fields and protocol; the body is read
 * and dropped. A header value node:http will not send is a CheckInputError (the check cannot be
 * made), said before anything is sent.
 */
export function send(req: OutgoingRequest, timeoutMs: number): Promise<ServerResponse> {
  for (const [n, v] of req.headers) unsendableValue(n, v);
  const url = new URL(req.url);
  const fields = new Map<string, { name: string; values: string[] }>();
  for (const [n, v] of [...req.headers, ['User-Agent', 'xorigin-check'] as const]) {
    const entry = fields.get(n.toLowerCase());
    if (entry === undefined) fields.set(n.toLowerCase(), { name: n, values: [v] });
    else entry.values.push(v);
  }
  return new Promise((resolve, reject) => {
    let settled = false;
    const exchange: Exchange = {
      url,
      req,
      fields,
      answer: (response) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(response);
      },
      fail: (e) => {
        if (settled) return;
        settled = true;
        // Whatever failed (the request, or the response mid-body), the timer must not keep the process alive.
        clearTimeout(timer);
        reject(new NetworkError(`cannot ${req.method} ${url.href}: ${explainNetworkFailure(e.code, e.message, url)}`, e.code));
      },
      onTimeout: () => {},
    };
    const timer = setTimeout(() => {
      exchange.fail(Object.assign(new Error(`no answer within ${timeoutMs} ms`), { code: 'timeout' }));
      exchange.onTimeout();
    }, timeoutMs);
    if (url.protocol === 'https:') sendSecure(exchange);
    else sendHttp1(exchange, http, undefined);
  });
}

/**
 * TLS first, offering h2 and http/1.1 by ALPN as browsers do (`protocols`), then the exchange over
 * what the server chose. Certificates are verified as https.request verifies them
 * (NODE_EXTRA_CA_CERTS included). The socket is destroyed whenever the exchange fails or times out.
 */
function sendSecure(x: Exchange, protocols = ['h2', 'http/1.1']): void {
  const host = x.url.hostname.replace(/^\[|\]$/g, '');
  const socket = tls.connect({
    host,
    port: Number(x.url.port || 443),
    // SNI names a host, never an IP address (RFC 6066 §3).
    ...(isIP(host) === 0 ? { servername: host } : {}),
    ALPNProtocols: protocols,
  });
  x.onTimeout = () => socket.destroy();
  const fail = x.fail;
  x.fail = (e) => {
    fail(e);
    socket.destroy();
  };
  socket.on('error', x.fail);
  socket.once('secureConnect', () => {
    if (socket.alpnProtocol === 'h2') void sendHttp2(x, socket);
    else sendHttp1(x, https, socket);
  });
}

/** HTTP/1.1, on a connection of its own (or the TLS socket `socket` already negotiated). */
function sendHttp1(x: Exchange, client: typeof http | typeof https, socket: TLSSocket | undefined): void {
  // A connection of its own: `agent: false`. Given one: no agent at all, or node:http would open another.
  const connection = socket === undefined ? { agent: false as const } : { createConnection: () => socket };
  const r = client.request(x.url, { method: x.req.method, maxHeaderSize: HEADER_LIMIT, ...connection }, (res) => {
    const headers: [string, string][] = [];
    for (let i = 0; i + 1 < res.rawHeaders.length; i += 2) headers.push([res.rawHeaders[i] as string, res.rawHeaders[i + 1] as string]);
    readBodyThen(res, x, () => {
      x.answer({ status: res.statusCode ?? 0, headers, protocol: 'HTTP/1.1' });
      // A socket given to node:http is not closed by it after the answer (one of its own is): nothing more goes over it.
      socket?.destroy();
    }, () => res.destroy());
  });
  x.onTimeout = () => r.destroy();
  r.on('error', x.fail);
  // One setHeader per name (repeated names as an array, so each goes on its own line, order kept).
  for (const { name, values } of x.fields.values()) r.setHeader(name, values.length === 1 ? (values[0] as string) : values);
  // node:http upper-cases the method; a browser sends `patch` as the script wrote it. The request
  // line is written at end(), from this property.
  r.method = x.req.method;
  r.end();
}

/** RST_STREAM codes (RFC 9113 §7) a stream may end with before its answer, by number. */
const H2_ERRORS = ['NO_ERROR', 'PROTOCOL_ERROR', 'INTERNAL_ERROR', 'FLOW_CONTROL_ERROR', 'SETTINGS_TIMEOUT', 'STREAM_CLOSED', 'FRAME_SIZE_ERROR', 'REFUSED_STREAM', 'CANCEL', 'COMPRESSION_ERROR', 'CONNECT_ERROR', 'ENHANCE_YOUR_CALM', 'INADEQUATE_SECURITY', 'HTTP_1_1_REQUIRED'];
const h2ErrorName = (code: number): string => H2_ERRORS[code] ?? `error code ${String(code)}`;
const HTTP_1_1_REQUIRED = 0xd;
const CANCEL = 0x8;

/**
 * HTTP/2 (RFC 9113) on the negotiated socket. Field names go in lower case (§8.2.2), a repeated
 * name as one field joined by ", " (as browsers send fetch()'s combined values). node:http2 is loaded
 * only here, for a server that chose it. A stream that ends without an answer is a network error
 * naming its code (ERR_HTTP2_STREAM_CLOSED, see network-failure.ts), except HTTP_1_1_REQUIRED, after
 * which browsers send the request again over HTTP/1.1, and so does this.
 */
async function sendHttp2(x: Exchange, socket: TLSSocket): Promise<void> {
  const http2 = await import('node:http2');
  // Header fields: node:http2 takes 128 by default; a browser takes a header block of HEADER_LIMIT bytes.
  const session = http2.connect(x.url.origin, { createConnection: () => socket, maxHeaderListPairs: 10_000, settings: { maxHeaderListSize: HEADER_LIMIT } });
  x.onTimeout = () => session.destroy();
  session.on('error', x.fail);
  const headers: Record<string, string> = { ':method': x.req.method, ':path': `${x.url.pathname}${x.url.search}` };
  for (const [lower, { values }] of x.fields) headers[lower] = values.join(', ');
  let stream: ClientHttp2Stream;
  try {
    stream = session.request(headers, { endStream: true });
  } catch (e) {
    return x.fail(e as Error);
  }
  let answered = false;
  // Said at 'close': a reset by the server as the stream's code; an error of node:http2's own (bytes
  // that are not HTTP/2) as itself.
  let streamError: (Error & { code?: string }) | null = null;
  stream.on('error', (e: Error & { code?: string }) => (streamError = e));
  // A GOAWAY with an error, or whose last stream is below ours (the request was not processed): no
  // stream event may follow.
  session.on('goaway', (code: number, lastStreamId: number) => {
    if (!answered && (code !== 0 || (stream.id ?? 0) > lastStreamId)) x.fail(Object.assign(new Error(`the server sent GOAWAY (${h2ErrorName(code)}) ${code === 0 ? 'without processing the request' : 'before an answer'}`), { code: 'ERR_HTTP2_GOAWAY' }));
  });
  stream.on('close', () => {
    if (answered) return;
    const code = stream.rstCode ?? 0;
    if (code === HTTP_1_1_REQUIRED) {
      session.destroy();
      return sendSecure(x, ['http/1.1']);
    }
    // The session's own error or GOAWAY, when one comes in the same turn, says more than the code
    // node:http2 gave the stream as it closed it (CANCEL for a closed connection, INTERNAL_ERROR for
    // a server that sent HTTP/1.1 bytes): it settles the exchange first.
    setImmediate(() => {
      if (streamError !== null && streamError.code !== 'ERR_HTTP2_STREAM_ERROR') return x.fail(streamError);
      if (session.destroyed && code === CANCEL) return x.fail(Object.assign(new Error('the connection closed before an answer'), { code: 'ECONNRESET' }));
      x.fail(Object.assign(new Error(`the stream ended with ${h2ErrorName(code)} before an answer`), { code: 'ERR_HTTP2_STREAM_CLOSED', rstCode: code }));
    });
  });
  stream.on('response', (object: IncomingHttpHeaders, _flags: number, raw: string[]) => {
    answered = true;
    // node:http2 does not hold an answer to the maxHeaderListSize advertised above; a browser does.
    const { fields, listSize } = http2Fields(raw);
    if (listSize > HEADER_LIMIT) {
      session.destroy();
      return x.fail(Object.assign(new Error(`the response's header list is ${listSize} bytes`), { code: 'ERR_HTTP2_HEADER_LIST_TOO_LARGE' }));
    }
    readBodyThen(stream, x, () => {
      x.answer({ status: Number(object[':status']), headers: fields, protocol: 'HTTP/2' });
      session.close();
    }, () => session.destroy());
  });
}

/**
 * An HTTP/2 answer's raw header list (name, value, name, value...): its fields without the
 * pseudo-headers, and its size as RFC 9113 §6.5.2 counts it (name, value and 32 bytes per field line).
 */
function http2Fields(raw: string[]): { fields: [string, string][]; listSize: number } {
  let listSize = 0;
  const fields: [string, string][] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i] as string;
    const value = raw[i + 1] as string;
    listSize += name.length + value.length + 32;
    if (!name.startsWith(':')) fields.push([name, value]);
  }
  return { fields, listSize };
}

/** Reads the body up to BODY_LIMIT and drops it, then `done` (also when the limit cut it: `cut` releases the rest). */
function readBodyThen(body: Readable, x: Exchange, done: () => void, cut: () => void): void {
  let size = 0;
  body.on('data', (c: Buffer) => {
    size += c.length;
    if (size > BODY_LIMIT) {
      done();
      cut();
    }
  });
  body.on('end', done);
  body.on('error', (e: Error) => (size > BODY_LIMIT ? done() : x.fail(e)));
}

/**
 * node:http refuses a value with a byte outside HT, 0x20-0x7E and 0x80-0xFF; fetch() accepts DEL
 * (0x7F) there, and Chromium and Firefox then fail the request after its preflight (evaluateCors
 * under their rules says so), where the standard would send it: the command cannot send it.
 */
function unsendableValue(name: string, value: string): void {
  try {
    http.validateHeaderValue(name, value);
  } catch {
    const del = value.includes('\x7f');
    throw new CheckInputError(`header ${name}: its value has ${del ? 'a DEL byte (0x7F)' : 'a control byte'}, which node:http will not send, so this request cannot be checked${del ? '; Chromium and Firefox fail such a request after its preflight' : ''}: remove the byte`);
  }
}
