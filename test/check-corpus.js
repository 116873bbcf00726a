// The differential corpus: each case is a request a page makes and the headers the scriptable
// server answers with. test/check-browser.test.js runs every case in Chromium (and Firefox) and
// compares the browser's outcome with evaluateCors and `xorigin check`.
//
// Placeholders in header values and Location: {PAGE} (the page's origin), {API} (the server's
// origin), {OTHER} (a third origin), {PATH} (this case's path on the server).
//
// `request`: { method, headers: [[name, value]], credentials, as: 'font' }.
// `routes`: by route name ('' is the URL fetched; a redirect may go to '/target'), the answer to a
// preflight (OPTIONS) and to the actual request: { status, headers }. A missing answer is a 404
// without CORS headers.

const A = ['Access-Control-Allow-Origin', '{PAGE}'];
const STAR = ['Access-Control-Allow-Origin', '*'];
const ACAC = ['Access-Control-Allow-Credentials', 'true'];
const acam = (v) => ['Access-Control-Allow-Methods', v];
const acah = (v) => ['Access-Control-Allow-Headers', v];
const aceh = (v) => ['Access-Control-Expose-Headers', v];
const r = (status, ...headers) => ({ status, headers });
const get = (actual, request = {}) => ({ request, routes: { '': { actual } } });
const pre = (request, preflight, actual = r(200, A)) => ({ request, routes: { '': { preflight, actual } } });
const BODY_HEADERS = [['Content-Type', 'text/plain'], ['Cache-Control', 'no-store'], ['X-A', '1'], ['X-B', '2'], ['Set-Cookie', 'k=v']];

export const CASES = {
  // The CORS check of a simple GET.
  'get-exact': get(r(200, A)),
  'get-star': get(r(200, STAR)),
  'get-no-acao': get(r(200)),
  'get-two-acao': get(r(200, A, A)),
  'get-two-star': get(r(200, STAR, STAR)),
  'get-acao-list': get(r(200, ['Access-Control-Allow-Origin', '{PAGE}, http://other.test'])),
  'get-acao-trailing-slash': get(r(200, ['Access-Control-Allow-Origin', '{PAGE}/'])),
  'get-acao-upper-case': get(r(200, ['Access-Control-Allow-Origin', 'HTTP://127.0.0.1:{PAGEPORT}'])),
  'get-acao-null': get(r(200, ['Access-Control-Allow-Origin', 'null'])),
  'get-acao-other': get(r(200, ['Access-Control-Allow-Origin', 'http://other.test'])),
  'get-500-no-cors': get(r(500)),
  'get-500-with-cors': get(r(500, A)),
  'get-404-with-cors': get(r(404, A)),
  'get-204': get(r(204, A)),
  'get-lower-case-method': get(r(200, A), { method: 'get' }),
  'post-no-headers': get(r(200, A), { method: 'POST' }),
  // Credentials.
  'cred-star': get(r(200, STAR), { credentials: 'include' }),
  'cred-star-acac': get(r(200, STAR, ACAC), { credentials: 'include' }),
  'cred-exact-acac': get(r(200, A, ACAC), { credentials: 'include' }),
  'cred-acac-True': get(r(200, A, ['Access-Control-Allow-Credentials', 'True'])), // same-origin: ACAC not looked at
  'cred-include-acac-True': get(r(200, A, ['Access-Control-Allow-Credentials', 'True']), { credentials: 'include' }),
  'cred-no-acac': get(r(200, A), { credentials: 'include' }),
  'cred-two-acac': get(r(200, A, ACAC, ACAC), { credentials: 'include' }),
  'cred-omit-star': get(r(200, STAR), { credentials: 'omit' }),
  // Preflight: status, methods.
  'put-ok': pre({ method: 'PUT' }, r(204, A, acam('PUT'))),
  'put-no-acam': pre({ method: 'PUT' }, r(204, A)),
  'put-acam-star': pre({ method: 'PUT' }, r(204, A, acam('*'))),
  'put-acam-star-cred': pre({ method: 'PUT', credentials: 'include' }, r(204, A, ACAC, acam('*')), r(200, A, ACAC)),
  'put-acam-lower': pre({ method: 'PUT' }, r(204, A, acam('put'))),
  'patch-lower-acam-upper': pre({ method: 'patch' }, r(204, A, acam('PATCH'))),
  'patch-lower-acam-lower': pre({ method: 'patch' }, r(204, A, acam('patch'))),
  'patch-upper-acam-upper': pre({ method: 'PATCH' }, r(204, A, acam('PATCH'))),
  'delete-listed': pre({ method: 'DELETE' }, r(204, A, acam('GET, DELETE'))),
  'put-acam-spaces': pre({ method: 'PUT' }, r(204, A, acam('  GET ,  PUT '))),
  'put-acam-malformed': pre({ method: 'PUT' }, r(204, A, acam('PUT;GET'))),
  'put-preflight-403': pre({ method: 'PUT' }, r(403, A, acam('PUT'))),
  'put-preflight-500-no-cors': pre({ method: 'PUT' }, r(500)),
  'put-preflight-301': pre({ method: 'PUT' }, r(301, A, acam('PUT'), ['Location', '{PATH}/target'])),
  'put-preflight-no-acao': pre({ method: 'PUT' }, r(204, acam('PUT'))),
  'put-preflight-star': pre({ method: 'PUT' }, r(204, STAR, acam('PUT')), r(200, STAR)),
  'put-actual-no-acao': pre({ method: 'PUT' }, r(204, A, acam('PUT')), r(200)),
  'put-preflight-200': pre({ method: 'PUT' }, r(200, A, acam('PUT'))),
  // Preflight: headers.
  'hdr-not-listed': pre({ headers: [['X-Token', '1']] }, r(204, A)),
  'hdr-listed': pre({ headers: [['X-Token', '1']] }, r(204, A, acah('x-token'))),
  'hdr-listed-other-case': pre({ headers: [['x-token', '1']] }, r(204, A, acah('X-TOKEN'))),
  'hdr-star': pre({ headers: [['X-Token', '1']] }, r(204, A, acah('*'))),
  'hdr-star-cred': pre({ headers: [['X-Token', '1']], credentials: 'include' }, r(204, A, ACAC, acah('*')), r(200, A, ACAC)),
  'hdr-one-of-two-listed': pre({ headers: [['X-A', '1'], ['X-B', '2']] }, r(204, A, acah('x-a'))),
  'hdr-acah-malformed': pre({ headers: [['X-Token', '1']] }, r(204, A, acah('x-token x-other'))),
  'auth-star': pre({ headers: [['Authorization', 'Bearer t']] }, r(204, A, acah('*'))),
  'auth-listed': pre({ headers: [['Authorization', 'Bearer t']] }, r(204, A, acah('authorization'))),
  'auth-star-and-listed': pre({ headers: [['Authorization', 'Bearer t']] }, r(204, A, acah('*, Authorization'))),
  'forbidden-header-dropped': get(r(200, A), { headers: [['Via', 'proxy']] }),
  // Which request headers need a preflight.
  'ct-json': pre({ method: 'POST', headers: [['Content-Type', 'application/json']] }, r(204, A)),
  'ct-json-listed': pre({ method: 'POST', headers: [['Content-Type', 'application/json']] }, r(204, A, acah('content-type'))),
  'ct-text-plain-charset': get(r(200, A), { method: 'POST', headers: [['Content-Type', 'text/plain;charset=utf-8']] }),
  'ct-form': get(r(200, A), { method: 'POST', headers: [['Content-Type', 'application/x-www-form-urlencoded']] }),
  'ct-multipart': get(r(200, A), { method: 'POST', headers: [['Content-Type', 'multipart/form-data; boundary=x']] }),
  'ct-upper-case': get(r(200, A), { method: 'POST', headers: [['Content-Type', 'TEXT/PLAIN']] }),
  'ct-unsafe-byte': pre({ method: 'POST', headers: [['Content-Type', 'text/plain; a="b"']] }, r(204, A)),
  'ct-not-a-mime-type': pre({ method: 'POST', headers: [['Content-Type', 'text/plain garbage']] }, r(204, A)),
  'ct-no-subtype': pre({ method: 'POST', headers: [['Content-Type', 'text/']] }, r(204, A)),
  'range-simple': get(r(206, A), { headers: [['Range', 'bytes=0-99']] }),
  'range-open': get(r(206, A), { headers: [['Range', 'bytes=5-']] }),
  'range-suffix': pre({ headers: [['Range', 'bytes=-5']] }, r(204, A)),
  'range-two': pre({ headers: [['Range', 'bytes=0-1,3-4']] }, r(204, A)),
  'range-reversed': pre({ headers: [['Range', 'bytes=5-2']] }, r(204, A)),
  'range-space': pre({ headers: [['Range', 'bytes= 0-1']] }, r(204, A)),
  'accept-128': get(r(200, A), { headers: [['Accept', 'a'.repeat(128)]] }),
  'accept-129': pre({ headers: [['Accept', 'a'.repeat(129)]] }, r(204, A)),
  'accept-unsafe-byte': pre({ headers: [['Accept', 'text/html{']] }, r(204, A)),
  'accept-language-underscore': pre({ headers: [['Accept-Language', 'en_US']] }, r(204, A)),
  'content-language-ok': get(r(200, A), { headers: [['Content-Language', 'en-US, fr;q=0.5']] }),
  'accept-language-twice': pre({ headers: [['Accept-Language', 'a'.repeat(100)], ['Accept-Language', 'b'.repeat(100)]] }, r(204, A)),
  'safelisted-over-1024': pre({ headers: Array.from({ length: 9 }, () => ['Accept-Language', 'a'.repeat(120)]) }, r(204, A)),
  'client-hint-dpr': pre({ headers: [['DPR', '2']] }, r(204, A)),
  'client-hint-width': pre({ headers: [['Width', '100']] }, r(204, A)),
  'client-hint-save-data': pre({ headers: [['Save-Data', 'on']] }, r(204, A)),
  'client-hint-dpr-bad-value': pre({ headers: [['DPR', 'two']] }, r(204, A)),
  'client-hint-viewport-width': pre({ headers: [['Viewport-Width', '800']] }, r(204, A)),
  'client-hint-device-memory': pre({ headers: [['Device-Memory', '0.5']] }, r(204, A)),
  'client-hint-rtt': pre({ headers: [['RTT', '50']] }, r(204, A)),
  'client-hint-downlink': pre({ headers: [['Downlink', '1.5']] }, r(204, A)),
  'client-hint-ect': pre({ headers: [['ECT', '4g']] }, r(204, A)),
  'client-hint-ect-bad-value': pre({ headers: [['ECT', '5g']] }, r(204, A)),
  'intervention': pre({ headers: [['Intervention', '<https://example/x>']] }, r(204, A)),
  // Readable response headers.
  'aceh-none': get(r(200, A, ...BODY_HEADERS)),
  'aceh-listed': get(r(200, A, ...BODY_HEADERS, aceh('x-a'))),
  'aceh-star': get(r(200, A, ...BODY_HEADERS, aceh('*'))),
  'aceh-star-cred': get(r(200, A, ACAC, ...BODY_HEADERS, aceh('*')), { credentials: 'include' }),
  'aceh-star-and-name-cred': get(r(200, A, ACAC, ...BODY_HEADERS, aceh('*, x-b')), { credentials: 'include' }),
  'aceh-set-cookie': get(r(200, A, ...BODY_HEADERS, aceh('set-cookie, x-a'))),
  'aceh-malformed': get(r(200, A, ...BODY_HEADERS, aceh('x-a x-b'))),
  // Redirects of the actual request.
  'redirect-same-origin': { request: {}, routes: { '': { actual: r(302, A, ['Location', '{PATH}/target']) }, '/target': { actual: r(200, A) } } },
  'redirect-without-acao': { request: {}, routes: { '': { actual: r(302, ['Location', '{PATH}/target']) }, '/target': { actual: r(200, A) } } },
  'redirect-cross-exact': { request: {}, routes: { '': { actual: r(302, A, ['Location', '{OTHER}{PATH}/target']) }, '/target': { actual: r(200, A) } } },
  'redirect-cross-star': { request: {}, routes: { '': { actual: r(302, A, ['Location', '{OTHER}{PATH}/target']) }, '/target': { actual: r(200, STAR) } } },
  'redirect-cross-null': { request: {}, routes: { '': { actual: r(307, A, ['Location', '{OTHER}{PATH}/target']) }, '/target': { actual: r(200, ['Access-Control-Allow-Origin', 'null']) } } },
  'redirect-cross-put-preflights-again': {
    request: { method: 'PUT' },
    routes: {
      '': { preflight: r(204, A, acam('PUT')), actual: r(307, A, ['Location', '{OTHER}{PATH}/target']) },
      '/target': { preflight: r(204, STAR, acam('PUT')), actual: r(200, STAR) },
    },
  },
  'redirect-cross-put-no-second-preflight-answer': {
    request: { method: 'PUT' },
    routes: { '': { preflight: r(204, A, acam('PUT')), actual: r(307, A, ['Location', '{OTHER}{PATH}/target']) }, '/target': { actual: r(200, STAR) } },
  },
  'redirect-303-put-becomes-get': {
    request: { method: 'PUT' },
    routes: { '': { preflight: r(204, A, acam('PUT')), actual: r(303, A, ['Location', '{PATH}/target']) }, '/target': { actual: r(200, A) } },
  },
  // Fonts: a CORS GET with credentials same-origin.
  'font-star': { request: { as: 'font' }, routes: { '': { actual: r(200, STAR, ['Content-Type', 'font/ttf']) } } },
  'font-exact': { request: { as: 'font' }, routes: { '': { actual: r(200, A, ['Content-Type', 'font/ttf']) } } },
  'font-no-acao': { request: { as: 'font' }, routes: { '': { actual: r(200, ['Content-Type', 'font/ttf']) } } },
  'font-other-origin': { request: { as: 'font' }, routes: { '': { actual: r(200, ['Access-Control-Allow-Origin', 'http://other.test'], ['Content-Type', 'font/ttf']) } } },
  // Found by a differential fuzz (4,374 generated cases in Chromium 150, 3,774 in Firefox ESR 153),
  // minimised. The Range unit and positions, as each engine reads them:
  'range-bytes-capitalised': pre({ headers: [['Range', 'Bytes=0-1']] }, r(204, A)),
  'range-plus-sign': pre({ headers: [['Range', 'bytes=+0-1']] }, r(204, A)),
  'range-start-over-end-beyond-2-53': pre({ headers: [['Range', 'bytes=9007199254740993-9007199254740992']] }, r(204, A)),
  'range-int64-max': pre({ headers: [['Range', 'bytes=9223372036854775807-']] }, r(204, A)),
  'range-int64-max-plus-1': pre({ headers: [['Range', 'bytes=9223372036854775808-']] }, r(204, A)),
  'range-uint64-max-plus-1': pre({ headers: [['Range', 'bytes=18446744073709551616-']] }, r(204, A)),
  // Headers one engine treats otherwise: User-Agent (Chromium drops it), bytes 0x80-0xFF (Firefox preflights).
  'user-agent': pre({ headers: [['User-Agent', 'x']] }, r(204, A)),
  'accept-latin1-byte': pre({ headers: [['Accept', 'text/\xe9']] }, r(204, A)),
  'ct-latin1-byte-in-parameter': pre({ method: 'POST', headers: [['Content-Type', 'text/plain; charset=\xe9']] }, r(204, A)),
  // ACAC `true` beside an empty line (Firefox skips the empty one).
  'cred-acac-true-and-empty': get(r(200, A, ACAC, ['Access-Control-Allow-Credentials', '']), { credentials: 'include' }),
  'cred-acac-empty-and-true': get(r(200, A, ['Access-Control-Allow-Credentials', ''], ACAC), { credentials: 'include' }),
  // A 3xx with an empty Location (Chromium hands it to script; the standard loops to the limit).
  'redirect-empty-location': get(r(302, A, ['Location', ''])),
  // Location given twice (Fetch §2.2: a single-value field, so a network error; engines follow
  // lines that are all the same). Found by a differential fuzz (x32).
  'redirect-two-same-location': { request: {}, routes: { '': { actual: r(302, A, ['Location', '{PATH}/target'], ['Location', '{PATH}/target']) }, '/target': { actual: r(200, A) } } },
  'redirect-two-different-location': { request: {}, routes: { '': { actual: r(302, A, ['Location', '{PATH}/target?a'], ['Location', '{PATH}/target?b']) }, '/target': { actual: r(200, A) } } },
  'redirect-two-empty-location': get(r(302, A, ['Location', ''], ['Location', ''])),
  // A legacy client hint with a value Chromium does not safelist (so preflighted), then a 307: Chromium
  // drops it on the redirect, the standard preflights the target again (it has no preflight answer).
  'client-hint-dpr-invalid-redirect': { request: { headers: [['DPR', 'two']] }, routes: { '': { preflight: r(204, A, acah('DPR')), actual: r(307, A, ['Location', '{PATH}/target']) }, '/target': { actual: r(200, A) } } },
  // A font from a 3xx that is not followed (x32): Chromium loads it, from any status below 400.
  'font-300': get(r(300, STAR), { as: 'font' }),
  'font-302-without-location': get(r(302, STAR), { as: 'font' }),
  'font-399': get(r(399, STAR), { as: 'font' }),
  // A redirect to a port the Fetch standard blocks (§2.9; 6000 is X11): nothing is sent there.
  'redirect-to-bad-port': get(r(302, A, ['Location', 'http://127.0.0.1:6000/x'])),
  // Two different values of a field both engines take one of, on a response that is no redirect (r32):
  // each fails it, whatever its status; the standard reads Location only on a redirect.
  'two-different-location-on-200': get(r(200, A, ['Location', '/a'], ['Location', '/b'])),
  'two-different-content-disposition': get(r(200, A, ['Content-Disposition', 'inline'], ['Content-Disposition', 'attachment'])),
  'preflight-two-different-location': pre({ method: 'PUT' }, r(204, A, acam('PUT'), ['Location', '/a'], ['Location', '/b'])),
  // Chromium splits Content-Disposition at commas outside quotes; Firefox compares lines (r32b).
  'content-disposition-comma-in-one-line': get(r(200, A, ['Content-Disposition', 'attachment; filename=a,b.txt'])),
  'content-disposition-same-value-split': get(r(200, A, ['Content-Disposition', 'inline'], ['Content-Disposition', 'inline, inline'])),
  'content-disposition-comma-quoted': get(r(200, A, ['Content-Disposition', 'attachment; filename="a,b.txt"'])),
  'redirect-to-port-0': get(r(302, A, ['Location', 'http://127.0.0.1:0/x'])),
  // A request header Chromium drops from what script sets (no preflight for it), as User-Agent.
  'private-network-request-header': pre({ headers: [['Access-Control-Request-Private-Network', 'true']] }, r(204, A)),
  // The preflight after a cross-origin redirect (Firefox sends and checks the page's origin, not null).
  'redirect-cross-put-null-preflight': {
    request: { method: 'PUT' },
    routes: { '': { preflight: r(204, A, acam('PUT')), actual: r(307, A, ['Location', '{OTHER}{PATH}/target']) }, '/target': { preflight: r(204, ['Access-Control-Allow-Origin', 'null'], acam('PUT')), actual: r(200, ['Access-Control-Allow-Origin', 'null']) } },
  },
  'redirect-cross-put-page-preflight-null-actual': {
    request: { method: 'PUT' },
    routes: { '': { preflight: r(204, A, acam('PUT')), actual: r(307, A, ['Location', '{OTHER}{PATH}/target']) }, '/target': { preflight: r(204, A, acam('PUT')), actual: r(200, ['Access-Control-Allow-Origin', 'null']) } },
  },
  // A font from a status that is not ok, or with no body, does not load though the CORS check passes.
  'font-404-with-acao': { request: { as: 'font' }, routes: { '': { actual: r(404, A, ['Content-Type', 'font/ttf']) } } },
  'font-204-star': { request: { as: 'font' }, routes: { '': { actual: r(204, STAR) } } },
};
