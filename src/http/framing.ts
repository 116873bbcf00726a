/**
 * Message framing checks of RFC 9112 §6 that node:http's parser leaves to the server: it hands a
 * request to the handler as soon as its head is parsed, and only rejects a Transfer-Encoding
 * whose last coding is not chunked afterwards (so the request had been answered already, and the
 * client got two responses), and it frames an HTTP/1.0 body by Transfer-Encoding as if it were 1.1.
 */
import { someListElement } from './field-list.js';
import { rangeEqualsLower } from './tokens.js';

/**
 * The status a request's Transfer-Encoding (node:http joins repeated lines with ", ") calls for,
 * or 0 to serve the request. The caller closes the connection after the answer, since the bytes
 * after this head cannot be trusted to frame a next request.
 * - HTTP/1.0 with any Transfer-Encoding: 400. §6.1: the framing MUST be treated as faulty (a 1.0
 *   intermediary would not have framed it so) and the connection closed; nginx answers 400 too.
 * - the last coding not chunked (`gzip`, `identity`, an empty value): 400. §6.3 rule 4: the body
 *   length cannot be determined reliably, so the server MUST answer 400 and close.
 * - chunked last, after codings this server does not decode (`gzip, chunked`): 501, §6.1: a
 *   transfer coding the server does not understand SHOULD get 501 (nginx's answer to all of these).
 */
export function transferEncodingStatus(value: string, http10: boolean): 0 | 400 | 501 {
  if (http10) return 400;
  let codings = 0;
  let lastChunked = false;
  // An empty list element (", ,") counts for nothing (RFC 9110 §5.6.1).
  someListElement(value, (start, stop) => {
    codings++;
    lastChunked = rangeEqualsLower(value, start, stop, 'chunked');
    return false;
  });
  if (!lastChunked) return 400;
  return codings === 1 ? 0 : 501;
}
