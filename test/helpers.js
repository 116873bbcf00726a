// Test helpers: real servers on 127.0.0.1 (port 0), requests with node:http or raw bytes with node:net.
import http from 'node:http';
import net from 'node:net';

/** Starts a node:http server on 127.0.0.1 with an ephemeral port. */
export async function listen(handler) {
  const server = http.createServer(handler);
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  return {
    server,
    port,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}

/** Starts an arbitrary listener-capable app (Express) on 127.0.0.1. */
export async function listenApp(app) {
  return listen(app);
}

/**
 * Sends one request with node:http. Resolves { status, headers (lowercased), raw (name/value pairs
 * as sent), body (Buffer) }.
 */
export function request(port, { method = 'GET', path = '/', headers = {} } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, headers, agent: false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode, headers: res.headers, raw: res.rawHeaders, body: Buffer.concat(chunks) }),
      );
      res.on('error', reject);
    });
    req.setTimeout(5000, () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end();
  });
}

/**
 * Sends raw bytes over a socket and resolves the first response: { status, headers: [[name, value]],
 * get(name) -> all values joined, text }. Used where node:http's client would normalise the request
 * (duplicate headers, odd whitespace, oversized lists).
 */
export function rawRequest(port, text) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let data = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`raw request timed out; received: ${JSON.stringify(data)}`));
    }, 5000);
    socket.setEncoding('latin1');
    socket.on('data', (d) => {
      data += d;
      const end = data.indexOf('\r\n\r\n');
      if (end === -1) return;
      const head = data.slice(0, end).split('\r\n');
      const headers = head.slice(1).map((line) => {
        const i = line.indexOf(':');
        return [line.slice(0, i).toLowerCase(), line.slice(i + 1).trim()];
      });
      const lengthHeader = headers.find(([n]) => n === 'content-length');
      const bodyLength = lengthHeader ? Number(lengthHeader[1]) : 0;
      if (data.length < end + 4 + bodyLength) return;
      clearTimeout(timer);
      socket.destroy();
      resolve({
        status: Number(head[0].split(' ')[1]),
        statusLine: head[0],
        headers,
        get: (name) => {
          const values = headers.filter(([n]) => n === name).map(([, v]) => v);
          return values.length === 0 ? undefined : values.join(', ');
        },
        text: data,
      });
    });
    socket.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    socket.write(text);
  });
}

/** The Access-Control-* header names present in a node:http response. */
export function acHeaders(res) {
  return Object.keys(res.headers).filter((n) => n.startsWith('access-control-'));
}
