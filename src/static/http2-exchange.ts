import { EventEmitter } from 'node:events';
import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeader, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { constants, type ServerHttp2Stream } from 'node:http2';

/**
 * One HTTP/2 stream seen as the request and response the static handler reads and writes, without
 * node:http2's compatibility layer. That layer builds a Readable and a Stream per request and copies
 * every header block through setHeader; measured with h2load it put a bare server at 0.63–0.69 of
 * `stream.respond`, and xorigin at 0.51–0.60. These two small objects carry only what the handler,
 * the CORS engine, the disk path and the access log use (see the StaticHandler and Cors code).
 */
export class Http2Request {
  readonly method: string;
  readonly url: string;
  readonly httpVersion = '2.0';

  constructor(
    readonly stream: ServerHttp2Stream,
    readonly headers: IncomingHttpHeaders,
  ) {
    this.method = headers[':method'] as string;
    this.url = headers[':path'] as string;
  }

  /** The peer, read only when asked (the access log): the session's socket is a Proxy in node:http2. */
  get socket(): { readonly remoteAddress: string | undefined } {
    return { remoteAddress: this.stream.session?.socket?.remoteAddress };
  }
}

function ignore(): void {}

/** The response side: headers go out in one `respond`, bodies through the stream's own write/end. */
export class Http2Response extends EventEmitter {
  statusCode = 200;
  headersSent = false;
  /** Only read by HTTP/1.1 code; an HTTP/2 connection is told to go away by GOAWAY instead. */
  shouldKeepAlive = true;
  private sent: OutgoingHttpHeaders | null = null;

  constructor(
    readonly stream: ServerHttp2Stream,
    readonly req: Http2Request,
  ) {
    super();
    // A reset or a protocol error ends the stream with 'error' then 'close'; 'close' is what every
    // holder of resources listens to. Without a listener, 'error' would end the process.
    stream.on('error', ignore);
    stream.once('close', () => this.emit('close'));
    // A request body is never read: once the answer is complete, node:http2 ends the stream with
    // RST_STREAM(NO_ERROR) (RFC 9113 §8.1), as test/http2.test.js shows. Reading it (resume) was
    // also costly: a stream whose request had ended then closed before its last write's callback,
    // for which node:http2 builds an error object (9% of the CPU of a 1-byte GET).
  }

  /**
   * Non-null while the stream is open, undefined after (as node:http2's own response reports it):
   * callers only ask whether the response may still write. The stream stands in for the socket.
   */
  get socket(): object | undefined {
    const s = this.stream;
    return s.closed || s.destroyed ? undefined : s;
  }

  get writableFinished(): boolean {
    return this.stream.writableFinished;
  }

  /** A flat `[name, value, ...]` block (as node:http takes it), sent as one HEADERS frame. */
  writeHead(status: number, block?: readonly string[]): this {
    const s = this.stream;
    if (this.headersSent || s.closed || s.destroyed) return this;
    const headers: OutgoingHttpHeaders = { ':status': status };
    // Names as the block has them: node:http2 lowercases them on the way out (no string made here).
    if (block !== undefined) for (let i = 0; i < block.length; i += 2) headers[block[i] as string] = block[i + 1] as string;
    this.statusCode = status;
    this.headersSent = true;
    this.sent = headers;
    s.respond(headers);
    return this;
  }

  end(body?: string | Buffer, encoding?: BufferEncoding): this {
    if (!this.headersSent) this.writeHead(this.statusCode);
    const s = this.stream;
    if (s.closed || s.destroyed || s.writableEnded) return this;
    // HEAD, 204 and 304 ended the stream in respond(); any body is dropped, as node:http drops it.
    if (body === undefined) s.end();
    else if (encoding === undefined) s.end(body);
    else s.end(body, encoding);
    return this;
  }

  write(chunk: Buffer, callback?: (err?: Error | null) => void): boolean {
    return this.stream.write(chunk, callback);
  }

  destroy(): void {
    this.stream.close(constants.NGHTTP2_INTERNAL_ERROR);
  }

  /** A header already sent, by name in any case (the access log reads Content-Length). */
  getHeader(name: string): OutgoingHttpHeader | undefined {
    const sent = this.sent;
    if (sent === null) return undefined;
    const lower = name.toLowerCase();
    for (const key in sent) if (key.toLowerCase() === lower) return sent[key];
    return undefined;
  }

  /** Nothing sets headers before the handler here (no middleware), so nothing is set until sent. */
  hasHeader(name: string): boolean {
    return this.getHeader(name) !== undefined;
  }
}

/** The pair as the handler's (req, res) parameters take them. */
export function exchangeOf(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): [IncomingMessage, ServerResponse] {
  const req = new Http2Request(stream, headers);
  const res = new Http2Response(stream, req);
  return [req as unknown as IncomingMessage, res as unknown as ServerResponse];
}
