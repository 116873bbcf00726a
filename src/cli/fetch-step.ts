// The command's network side: sends one request as the browser would put it on the wire
// (node:http / node:https), with a bounded timeout, and returns the status and header fields.
import http from 'node:http';
import https from 'node:https';
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

/**
 * Sends `req` and resolves the response's status and raw header fields; the body is read and dropped.
 * A header value node:http will not send is a CheckInputError (the check cannot be made), said before
 * anything is sent.
 */
export function send(req: OutgoingRequest, timeoutMs: number): Promise<ServerResponse> {
  for (const [n, v] of req.headers) unsendableValue(n, v);
  const url = new URL(req.url);
  const client = url.protocol === 'https:' ? https : http;
  // One setHeader per name (repeated names as an array, so each goes on its own line, order kept).
  const byName = new Map<string, { name: string; values: string[] }>();
  for (const [n, v] of [...req.headers, ['User-Agent', 'xorigin-check'] as const]) {
    const entry = byName.get(n.toLowerCase());
    if (entry === undefined) byName.set(n.toLowerCase(), { name: n, values: [v] });
    else entry.values.push(v);
  }
  return new Promise((resolve, reject) => {
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    const fail = (e: Error & { code?: string }): void => {
      if (settled) return;
      settled = true;
      // Whatever failed (the request, or the response mid-body), the timer must not keep the process alive.
      clearTimeout(timer);
      reject(new NetworkError(`cannot ${req.method} ${url.href}: ${explainNetworkFailure(e.code, e.message, url)}`, e.code));
    };
    const r = client.request(url, { method: req.method, agent: false, maxHeaderSize: HEADER_LIMIT }, (res) => {
      let size = 0;
      const headers: [string, string][] = [];
      for (let i = 0; i + 1 < res.rawHeaders.length; i += 2) headers.push([res.rawHeaders[i] as string, res.rawHeaders[i + 1] as string]);
      const done = (): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, headers });
      };
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > BODY_LIMIT) {
          done();
          res.destroy();
        }
      });
      res.on('end', done);
      res.on('error', (e) => (size > BODY_LIMIT ? done() : fail(e)));
    });
    timer = setTimeout(() => {
      fail(Object.assign(new Error(`no answer within ${timeoutMs} ms`), { code: 'timeout' }));
      r.destroy();
    }, timeoutMs);
    r.on('error', fail);
    for (const { name, values } of byName.values()) r.setHeader(name, values.length === 1 ? (values[0] as string) : values);
    // node:http upper-cases the method; a browser sends `patch` as the script wrote it. The request
    // line is written at end(), from this property.
    r.method = req.method;
    r.end();
  });
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
