// Why `xorigin check` got no answer, in one line: what failed (by the system's or TLS's error code)
// and the fix, for the server's operator or for the user. Certificates are verified as a browser
// verifies them, and there is deliberately no --insecure: a certificate the browser would refuse is
// the finding, so the only way around is to trust a private CA explicitly (NODE_EXTRA_CA_CERTS).

const TRUST = 'to check a server with a private CA, trust that CA for the run: NODE_EXTRA_CA_CERTS=ca.pem xorigin check ...';

/** The host name without an IPv6 literal's brackets, as certificates and DNS name it. */
const hostOf = (url: URL): string => url.hostname.replace(/^\[|\]$/g, '');

const unknownCa = (): string =>
  `the server's certificate is signed by an unknown CA, or the server does not send its intermediate certificates; server operator: send the whole chain (certificate, then intermediates); ${TRUST}`;

const HEADER_SECTION_TOO_LARGE =
  "the response's header section is larger than 256 KiB, which Chromium refuses too (ERR_RESPONSE_HEADERS_TOO_BIG); server operator: send fewer or shorter header fields (a preflight need list only the methods and headers asked for)";

const HEADER_BLOCK_TOO_MANY_FRAMES =
  "the response's header block came in more HTTP/2 frames than node:http2 reads (a HEADERS frame and 8 CONTINUATION frames, ~144 KiB of encoded fields), so this check cannot judge the answer; Chromium accepts it if its fields come to less than 256 KiB; server operator: send fewer or shorter header fields";

/** Known failures: what happened, and the fix. Codes are OpenSSL's (as Node reports them) or Node's. */
const KNOWN: Readonly<Record<string, (url: URL) => string>> = {
  DEPTH_ZERO_SELF_SIGNED_CERT: () => `the server's certificate is self-signed, so a browser refuses it too; server operator: use a certificate from a CA browsers trust; to check this server anyway, trust its certificate for the run: NODE_EXTRA_CA_CERTS=cert.pem xorigin check ...`,
  SELF_SIGNED_CERT_IN_CHAIN: () => `the server's certificate chain ends in a CA nobody here trusts (a private CA), so a browser refuses it too; server operator: use a certificate from a CA browsers trust; ${TRUST}`,
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: unknownCa,
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: unknownCa,
  UNABLE_TO_GET_ISSUER_CERT: unknownCa,
  CERT_HAS_EXPIRED: () => `the server's certificate has expired (this machine's clock says ${new Date().toISOString()}); server operator: renew it. If this clock is wrong, set it right`,
  CERT_NOT_YET_VALID: () => `the server's certificate is not valid yet (this machine's clock says ${new Date().toISOString()}); check this clock, or the server operator reissues the certificate with a start date in the past`,
  ERR_TLS_CERT_ALTNAME_INVALID: (url) => `the server's certificate is not for the host name ${hostOf(url)}; request the name the certificate is for, or server operator: add ${hostOf(url)} to the certificate's subjectAltName`,
  ERR_SSL_WRONG_VERSION_NUMBER: () => 'the server does not speak TLS on this port (a plain HTTP server?); use http:// or the HTTPS port',
  ECONNREFUSED: (url) => `nothing listens on ${url.host}: the connection was refused; check the port, and that the server is running`,
  ENOTFOUND: (url) => `the host name ${hostOf(url)} does not resolve (DNS); check its spelling, or this machine's resolver`,
  EAI_AGAIN: (url) => `the host name ${hostOf(url)} could not be resolved now (DNS did not answer); try again, or check this machine's resolver`,
  ECONNRESET: () => 'the server closed the connection before answering (a crash, a proxy, or TLS refused on its side)',
  ERR_HTTP2_ERROR: () => 'the server chose HTTP/2 by ALPN, but what it sent is not HTTP/2 that node:http2 can read (a server or proxy fault: HTTP/1.1 bytes, a broken frame); browsers fail the request too; server operator: offer h2 by ALPN only where HTTP/2 is spoken',
  HPE_HEADER_OVERFLOW: () => HEADER_SECTION_TOO_LARGE,
  ERR_HTTP2_HEADER_LIST_TOO_LARGE: () => HEADER_SECTION_TOO_LARGE,
};

/** Why an HTTP/2 stream ended before its answer, by the RST_STREAM code its message names (fetch-step.ts). */
function streamClosed(message: string): string {
  if (message.includes(' PROTOCOL_ERROR ')) {
    return `${message}: the server reset it, or its answer broke RFC 9113 §8.2 and node:http2 refused it (an upper-case field name, or a connection-specific field such as Connection, Keep-Alive or Transfer-Encoding); Chromium fails an upper-case name or Transfer-Encoding too (ERR_HTTP2_PROTOCOL_ERROR), and accepts Connection and Keep-Alive; server operator: send lower-case field names and no connection-specific field over HTTP/2`;
  }
  if (message.includes(' ENHANCE_YOUR_CALM ')) return `${message}: node:http2 ends a stream so when the answer's header section is larger than 256 KiB, which Chromium refuses too; server operator: send fewer or shorter header fields`;
  if (message.includes(' REFUSED_STREAM ')) return `${message}: the server refused the stream without processing the request (overloaded, or at its stream limit); try again`;
  return `${message}: the server (or a proxy in front of it) ended the stream without answering`;
}

/**
 * One line for a request that got no answer: `code` is the error's `code` (a system, OpenSSL or
 * Node code; undefined for others), `message` its message, `url` the request's. Known codes say what
 * happened and the fix, with the code in parentheses; others keep the code and message.
 */
export function explainNetworkFailure(code: string | undefined, message: string, url: URL): string {
  if (code === 'ERR_HTTP2_STREAM_CLOSED') return `${streamClosed(message)} (${code})`;
  // nghttp2 reads a header block in at most 9 frames (HEADERS and 8 CONTINUATION, its guard against
  // CONTINUATION floods): ~144 KiB of encoded fields in 16 KiB frames. A larger block fails so, as
  // ERR_HTTP2_ERROR, which is no framing fault of the server's, and which Chromium may still read.
  if (code === 'ERR_HTTP2_ERROR' && message.includes('CONTINUATION')) return `${HEADER_BLOCK_TOO_MANY_FRAMES} (${code}: ${message})`;
  if (code === 'ERR_HTTP2_GOAWAY') return `${message}: it is closing the connection (${message.includes('(NO_ERROR)') ? 'a restart, a reload, a limit; try again' : 'for an error of the connection: a proxy or server fault, or a framing it refused'}) (${code})`;
  // OpenSSL's reason ("wrong version number") inside Node's EPROTO message, without the file and line.
  const ssl = /:SSL routines:[^:]*:([^:]+)/.exec(message)?.[1];
  const key = code === 'EPROTO' && ssl === 'wrong version number' ? 'ERR_SSL_WRONG_VERSION_NUMBER' : code;
  const explain = key !== undefined && Object.hasOwn(KNOWN, key) ? KNOWN[key] : undefined;
  if (explain !== undefined) return `${explain(url)} (${code as string})`;
  if (code !== undefined && /CERT|SSL|TLS|EPROTO/.test(code)) return `TLS failed (${code}: ${ssl ?? message}); a browser refuses this too; server operator: fix the certificate or the TLS setup; ${TRUST}`;
  return code === undefined ? message : `${code}${message.includes(code) ? '' : `: ${message}`}`;
}
