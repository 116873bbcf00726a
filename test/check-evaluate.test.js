// evaluateCors, table-tested: the Fetch standard's steps, each engine's deviations, and the
// operator-facing reason and fix.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CheckInputError, evaluateCors, parseOrigin, isSimpleRange, mimeEssence, normalizeMethod, unsafeHeaderNames, rulesFor, readableHeaders } from '../dist/check/index.js';

const O = 'https://app.example';
const U = 'https://api.example/items';
const ok = (headers = [], status = 200) => ({ status, headers });
const acao = (o = O) => ['Access-Control-Allow-Origin', o];

test('method normalisation: only the six are upper-cased; patch stays patch; forbidden ones throw', () => {
  assert.equal(normalizeMethod('get'), 'GET');
  assert.equal(normalizeMethod('delete'), 'DELETE');
  assert.equal(normalizeMethod('patch'), 'patch');
  assert.throws(() => normalizeMethod('trace'), CheckInputError);
  assert.throws(() => normalizeMethod('GE T'), CheckInputError);
});

test('MIME essence and simple Range, as the standard parses them', () => {
  for (const [v, e] of [['text/plain', 'text/plain'], ['Text/Plain; charset=utf-8', 'text/plain'], [' text/plain ;x', 'text/plain'], ['text/plain garbage', null], ['text', null], ['/plain', null], ['application/json', 'application/json']]) {
    assert.equal(mimeEssence(v), e, v);
  }
  // The unit is compared as written ("starts with `bytes`"), and the positions as exact integers:
  // 2^53 + 1 and 2^53 are equal as JavaScript numbers, so start > end went unseen (found by a fuzz
  // against Firefox, which preflights both).
  for (const [v, e] of [['bytes=0-99', true], ['bytes=5-', true], ['BYTES=0-1', false], ['Bytes=0-1', false], ['bytes=-500', false], ['bytes=5-2', false], ['bytes=0-1,2-3', false], ['bytes = 0-1', false], ['bytes=0-1 ', false], ['items=0-1', false], ['bytes=+0-1', false], ['bytes=9007199254740993-9007199254740992', false], ['bytes=9007199254740992-9007199254740993', true], ['bytes=99999999999999999999999-', true]]) {
    assert.equal(isSimpleRange(v), e, v);
  }
});

test('Range as each engine reads it: Chromium takes the unit in any case and a + sign, and neither engine reads a position past its integer type', () => {
  const chromium = rulesFor('chromium').range;
  const firefox = rulesFor('firefox').range;
  for (const [v, c, f] of [
    ['Bytes=0-1', true, false],
    ['bytes=+0-1', true, false],
    ['bytes=0-+1', true, false],
    ['bytes=-+1', false, false],
    ['bytes=+-1', false, false],
    ['bytes=9223372036854775807-', true, true],
    ['bytes=9223372036854775808-', false, true],
    ['bytes=0-9223372036854775808', false, true],
    ['bytes=18446744073709551615-', false, true],
    ['bytes=18446744073709551616-', false, false],
    ['bytes=9007199254740993-9007199254740992', false, false],
  ]) {
    assert.equal(isSimpleRange(v, chromium), c, `chromium ${v}`);
    assert.equal(isSimpleRange(v, firefox), f, `firefox ${v}`);
  }
});

const cases = [
  // [name, request, responses, expected subset, browser]
  ['simple GET, exact ACAO', {}, [ok([acao()])], { verdict: 'allowed', preflight: false, status: 200 }],
  ['simple GET, ACAO *', {}, [ok([acao('*')])], { verdict: 'allowed' }],
  ['no ACAO', {}, [ok([])], { verdict: 'blocked', failedStep: 'actual request: CORS check: Access-Control-Allow-Origin' }],
  ['a 500 without CORS headers', {}, [ok([], 500)], { verdict: 'blocked' }],
  ['a 500 with CORS headers is readable', {}, [ok([acao()], 500)], { verdict: 'allowed', status: 500 }],
  ['two ACAO fields', {}, [ok([acao(), acao()])], { verdict: 'blocked' }],
  ['ACAO with a trailing slash', {}, [ok([acao(`${O}/`)])], { verdict: 'blocked' }],
  ['ACAO of another case', {}, [ok([acao(O.toUpperCase())])], { verdict: 'blocked' }],
  ['* with credentials', { credentials: 'include' }, [ok([acao('*')])], { verdict: 'blocked' }],
  ['credentials, ACAC true', { credentials: 'include' }, [ok([acao(), ['Access-Control-Allow-Credentials', 'true']])], { verdict: 'allowed' }],
  ['credentials, ACAC True', { credentials: 'include' }, [ok([acao(), ['Access-Control-Allow-Credentials', 'True']])], { verdict: 'blocked', failedStep: 'actual request: CORS check: Access-Control-Allow-Credentials' }],
  ['credentials, no ACAC', { credentials: 'include' }, [ok([acao()])], { verdict: 'blocked' }],
  ['same-origin credentials ignore ACAC', { credentials: 'same-origin' }, [ok([acao('*')])], { verdict: 'allowed' }],
  ['PUT: preflight then the request', { method: 'PUT' }, [ok([acao(), ['Access-Control-Allow-Methods', 'PUT']], 204), ok([acao()])], { verdict: 'allowed', preflight: true, maxAge: 5 }],
  ['PUT: method missing', { method: 'PUT' }, [ok([acao(), ['Access-Control-Allow-Methods', 'GET']], 204)], { verdict: 'blocked', failedStep: 'preflight: Access-Control-Allow-Methods' }],
  ['PUT: ACAM * without credentials', { method: 'PUT' }, [ok([acao(), ['Access-Control-Allow-Methods', '*']], 204), ok([acao()])], { verdict: 'allowed' }],
  ['PUT: ACAM * with credentials', { method: 'PUT', credentials: 'include' }, [ok([acao(), ['Access-Control-Allow-Credentials', 'true'], ['Access-Control-Allow-Methods', '*']], 204)], { verdict: 'blocked' }],
  ['patch vs PATCH', { method: 'patch' }, [ok([acao(), ['Access-Control-Allow-Methods', 'PATCH']], 204)], { verdict: 'blocked' }],
  ['patch listed as patch', { method: 'patch' }, [ok([acao(), ['Access-Control-Allow-Methods', 'patch']], 204), ok([acao()])], { verdict: 'allowed' }],
  ['preflight 403', { method: 'PUT' }, [ok([acao(), ['Access-Control-Allow-Methods', 'PUT']], 403)], { verdict: 'blocked', failedStep: 'preflight: status' }],
  ['preflight 301', { method: 'PUT' }, [ok([acao(), ['Location', '/other']], 301)], { verdict: 'blocked' }],
  ['preflight 500 without headers', { method: 'PUT' }, [ok([], 500)], { verdict: 'blocked' }],
  ['header not listed', { headers: [['X-Token', '1']] }, [ok([acao()], 204)], { verdict: 'blocked', failedStep: 'preflight: Access-Control-Allow-Headers' }],
  ['header listed in another case', { headers: [['X-Token', '1']] }, [ok([acao(), ['Access-Control-Allow-Headers', 'x-TOKEN']], 204), ok([acao()])], { verdict: 'allowed', preflight: true }],
  ['ACAH *', { headers: [['X-Token', '1']] }, [ok([acao(), ['Access-Control-Allow-Headers', '*']], 204), ok([acao()])], { verdict: 'allowed' }],
  ['ACAH * does not cover Authorization', { headers: [['Authorization', 'Bearer x']] }, [ok([acao(), ['Access-Control-Allow-Headers', '*']], 204)], { verdict: 'blocked', failedStep: 'preflight: Access-Control-Allow-Headers (authorization)' }],
  ['ACAH *, authorization', { headers: [['Authorization', 'Bearer x']] }, [ok([acao(), ['Access-Control-Allow-Headers', '*, authorization']], 204), ok([acao()])], { verdict: 'allowed' }],
  ['ACAH * with credentials is literal', { credentials: 'include', headers: [['X-Token', '1']] }, [ok([acao(), ['Access-Control-Allow-Credentials', 'true'], ['Access-Control-Allow-Headers', '*']], 204)], { verdict: 'blocked' }],
  ['ACAH malformed', { headers: [['X-Token', '1']] }, [ok([acao(), ['Access-Control-Allow-Headers', 'x-token; x-other']], 204)], { verdict: 'blocked' }],
  ['JSON Content-Type needs a preflight', { method: 'POST', headers: [['Content-Type', 'application/json']] }, [ok([acao(), ['Access-Control-Allow-Headers', 'content-type']], 204), ok([acao()])], { verdict: 'allowed', preflight: true }],
  ['text/plain;charset=utf-8 needs none', { method: 'POST', headers: [['Content-Type', 'text/plain;charset=utf-8']] }, [ok([acao()])], { verdict: 'allowed', preflight: false }],
  ['simple Range needs none', { headers: [['Range', 'bytes=0-99']] }, [ok([acao()], 206)], { verdict: 'allowed', preflight: false, status: 206 }],
  ['suffix Range needs one', { headers: [['Range', 'bytes=-99']] }, [ok([acao()], 204)], { verdict: 'blocked', preflight: true }],
  ['a 129-byte Accept needs one', { headers: [['Accept', 'a'.repeat(129)]] }, [ok([acao()], 204)], { verdict: 'blocked', preflight: true }],
  ['DPR is safelisted by Chromium only', { headers: [['DPR', '2']] }, [ok([acao()])], { verdict: 'allowed', preflight: false }, 'chromium'],
  ['DPR needs a preflight in the standard', { headers: [['DPR', '2']] }, [ok([acao()], 204)], { verdict: 'blocked', preflight: true }, 'standard'],
  ['Chromium lets ACAH * cover Authorization', { headers: [['Authorization', 'Bearer x']] }, [ok([acao(), ['Access-Control-Allow-Headers', '*']], 204), ok([acao()])], { verdict: 'allowed' }, 'chromium'],
  ['... but not with credentials', { credentials: 'include', headers: [['Authorization', 'Bearer x']] }, [ok([acao(), ['Access-Control-Allow-Credentials', 'true'], ['Access-Control-Allow-Headers', '*']], 204)], { verdict: 'blocked' }, 'chromium'],
  ['Firefox too lets ACAH * cover Authorization', { headers: [['Authorization', 'Bearer x']] }, [ok([acao(), ['Access-Control-Allow-Headers', '*']], 204), ok([acao()])], { verdict: 'allowed' }, 'firefox'],
  ['Firefox applies no 1,024-byte total', { headers: Array.from({ length: 9 }, () => ['Accept-Language', 'a'.repeat(120)]) }, [ok([acao()])], { verdict: 'allowed', preflight: false }, 'firefox'],
  ['Firefox preflights again after a redirect, even a GET', { method: 'PUT' }, [ok([acao(), ['Access-Control-Allow-Methods', 'PUT']], 204), ok([acao(), ['Location', '/t']], 303), ok([], 404)], { verdict: 'blocked', failedStep: 'preflight: CORS check: Access-Control-Allow-Origin' }, 'firefox'],
  ['... the standard does not', { method: 'PUT' }, [ok([acao(), ['Access-Control-Allow-Methods', 'PUT']], 204), ok([acao(), ['Location', '/t']], 303), ok([acao()])], { verdict: 'allowed' }, 'standard'],
  ['Chromium judges a repeated header as one combined value', { headers: [['Accept-Language', 'a'.repeat(100)], ['Accept-Language', 'b'.repeat(100)]] }, [ok([acao()], 204)], { verdict: 'blocked', preflight: true }, 'chromium'],
  ['the standard judges each entry', { headers: [['Accept-Language', 'a'.repeat(100)], ['Accept-Language', 'b'.repeat(100)]] }, [ok([acao()])], { verdict: 'allowed', preflight: false }, 'standard'],
  ['a cross-origin redirect taints the origin', {}, [ok([acao(), ['Location', 'https://other.example/x']], 302), ok([acao()])], { verdict: 'blocked' }],
  ['... and ACAO: null or * passes', {}, [ok([acao(), ['Location', 'https://other.example/x']], 302), ok([acao('*')])], { verdict: 'allowed' }],
  ['a redirect without ACAO fails', {}, [ok([['Location', 'https://other.example/x']], 302)], { verdict: 'blocked', failedStep: 'redirect: CORS check: Access-Control-Allow-Origin' }],
  ['a same-origin redirect keeps the origin', {}, [ok([acao(), ['Location', '/moved']], 301), ok([acao()])], { verdict: 'allowed' }],
  ['a 3xx without Location is a response', {}, [ok([acao()], 304 - 4)], { verdict: 'allowed', status: 300 }],
  ['same-origin needs no CORS', { url: `${O}/x` }, [ok([])], { verdict: 'allowed', preflight: false }],
  ['a font is a CORS GET', { as: 'font', credentials: 'include' }, [ok([acao('*')])], { verdict: 'allowed' }],
  // Found by a differential fuzz against Chromium 150 and Firefox ESR 153 (each also a case of test/check-corpus.js).
  ['a font from a 404 does not load, CORS headers or not', { as: 'font' }, [ok([acao('*')], 404)], { verdict: 'blocked', failedStep: 'font load: status' }],
  ['... nor from a 204 (no body)', { as: 'font' }, [ok([acao('*')], 204)], { verdict: 'blocked', failedStep: 'font load: status' }],
  ['... nor from a same-origin 500', { as: 'font', url: `${O}/f.woff2` }, [ok([], 500)], { verdict: 'blocked', failedStep: 'font load: status' }],
  ['... nor from a 3xx that is not followed (a 300)', { as: 'font' }, [ok([acao('*')], 300)], { verdict: 'blocked', failedStep: 'font load: status' }],
  ['... which Chromium loads, as any status below 400', { as: 'font' }, [ok([acao('*')], 300)], { verdict: 'allowed' }, 'chromium'],
  ['... but not a 400', { as: 'font' }, [ok([acao('*')], 400)], { verdict: 'blocked', failedStep: 'font load: status' }, 'chromium'],
  ['a fetch() of a 404 with ACAO is allowed (script sees the 404)', {}, [ok([acao()], 404)], { verdict: 'allowed', status: 404 }],
  ['Chromium drops a User-Agent set by script: no preflight', { headers: [['User-Agent', 'x']] }, [ok([acao()])], { verdict: 'allowed', preflight: false }, 'chromium'],
  ['... the standard preflights it', { headers: [['User-Agent', 'x']] }, [ok([acao()], 204)], { verdict: 'blocked', preflight: true }, 'standard'],
  ['Firefox preflights a byte 0x80-0xFF in Accept', { headers: [['Accept', 'text/\xe9']] }, [ok([acao()], 204)], { verdict: 'blocked', preflight: true }, 'firefox'],
  ['... and in Content-Type', { method: 'POST', headers: [['Content-Type', 'text/plain; charset=\xe9']] }, [ok([acao()], 204)], { verdict: 'blocked', preflight: true }, 'firefox'],
  ['... the standard does not', { headers: [['Accept', 'text/\xe9']] }, [ok([acao()])], { verdict: 'allowed', preflight: false }, 'standard'],
  ['Firefox skips an empty ACAC line', { credentials: 'include' }, [ok([acao(), ['Access-Control-Allow-Credentials', 'true'], ['Access-Control-Allow-Credentials', '']])], { verdict: 'allowed' }, 'firefox'],
  ['... the standard reads "true, "', { credentials: 'include' }, [ok([acao(), ['Access-Control-Allow-Credentials', 'true'], ['Access-Control-Allow-Credentials', '']])], { verdict: 'blocked', failedStep: 'actual request: CORS check: Access-Control-Allow-Credentials' }, 'standard'],
  ['Chromium hands a 3xx with an empty Location to script', {}, [ok([acao(), ['Location', '']], 302)], { verdict: 'allowed', status: 302 }, 'chromium'],
  ['... the standard follows it to the same URL until the limit', {}, Array.from({ length: 21 }, () => ok([acao(), ['Location', '']], 302)), { verdict: 'blocked', failedStep: 'redirect: redirect count' }, 'standard'],
  ['Firefox preflights a tainted request with the page\'s origin', { method: 'PUT' }, [ok([acao(), ['Access-Control-Allow-Methods', 'PUT']], 204), ok([acao(), ['Location', 'https://other.example/t']], 307), ok([acao(), ['Access-Control-Allow-Methods', 'PUT']], 204), ok([acao('null')])], { verdict: 'allowed' }, 'firefox'],
  ['... and says that one origin answered to both cannot pass: the fix is *', { method: 'PUT' }, [ok([acao(), ['Access-Control-Allow-Methods', 'PUT']], 204), ok([acao(), ['Location', 'https://other.example/t']], 307), ok([acao('null'), ['Access-Control-Allow-Methods', 'PUT']], 204)], { verdict: 'blocked', failedStep: 'preflight: CORS check: Access-Control-Allow-Origin', fix: 'firefox checks this preflight against the page\'s origin https://app.example and the request after it against "null": answer both with "Access-Control-Allow-Origin: *" (without credentials), or link the API directly instead of redirecting.' }, 'firefox'],
  ['... the standard sends and checks null', { method: 'PUT' }, [ok([acao(), ['Access-Control-Allow-Methods', 'PUT']], 204), ok([acao(), ['Location', 'https://other.example/t']], 307), ok([acao(), ['Access-Control-Allow-Methods', 'PUT']], 204)], { verdict: 'blocked', failedStep: 'preflight: CORS check: Access-Control-Allow-Origin' }, 'standard'],
  // Found by a differential against Chromium 150 and Firefox ESR 140 over HTTPS: both block these before sending anything.
  ['an HTTPS page\'s fetch of a plain-HTTP URL is mixed content: blocked, nothing sent', { url: 'http://api.example/items' }, [], { verdict: 'blocked', failedStep: 'request: mixed content', steps: [] }],
  ['... a redirect to plain HTTP is blocked at that hop', {}, [ok([acao('*'), ['Location', 'http://api.example/x']], 302)], { verdict: 'blocked', failedStep: 'redirect: mixed content' }],
  ['... loopback is potentially trustworthy: allowed', { url: 'http://127.0.0.1:8787/items' }, [ok([acao()])], { verdict: 'allowed' }],
  ['... so is localhost', { url: 'http://localhost:8787/items' }, [ok([acao()])], { verdict: 'allowed' }],
  ['... written fully qualified, with its dot', { url: 'http://app.localhost.:8787/items' }, [ok([acao()])], { verdict: 'allowed' }],
  ['... and an HTTP page may fetch plain HTTP', { url: 'http://api.example/items', origin: 'http://app.example' }, [ok([acao('http://app.example')])], { verdict: 'allowed' }],
  // Found by a differential fuzz against Chromium 150 (x32).
  ['a URL on a bad port (Fetch §2.9: 6000 is X11) is blocked, nothing sent', { url: 'https://api.example:6000/items' }, [], { verdict: 'blocked', failedStep: 'request: bad port', steps: [] }],
  ['... so is a redirect to one, at that hop', {}, [ok([acao('*'), ['Location', 'https://api.example:6667/x']], 302)], { verdict: 'blocked', failedStep: 'redirect: bad port' }],
  ['... a port not on the list is fetched', { url: 'https://api.example:6001/items' }, [ok([acao()])], { verdict: 'allowed' }],
  ['... Chromium connects to 4190 and 6679, on the standard\'s list', { url: 'https://api.example:4190/items' }, [ok([acao()])], { verdict: 'allowed' }, 'chromium'],
  ['... and so blocks none of them', { url: 'https://api.example:6679/items' }, [ok([acao()])], { verdict: 'allowed' }, 'chromium'],
  ['... Firefox blocks them, as the standard', { url: 'https://api.example:4190/items' }, [], { verdict: 'blocked', failedStep: 'request: bad port' }, 'firefox'],
  ['port 0 is refused everywhere, nothing sent', { url: 'https://api.example:0/items' }, [], { verdict: 'blocked', failedStep: 'request: bad port' }, 'chromium'],
  ['two different Location fields on a 200: Chromium and Firefox fail it', {}, [ok([acao(), ['Location', '/a'], ['Location', '/b']])], { verdict: 'blocked', failedStep: 'actual request: Location' }, 'firefox'],
  ['... and on a preflight\'s answer', { method: 'PUT' }, [ok([acao(), ['Access-Control-Allow-Methods', 'PUT'], ['Location', '/a'], ['Location', '/b']], 204)], { verdict: 'blocked', failedStep: 'preflight: Location' }, 'chromium'],
  ['... two different Content-Disposition fields too', {}, [ok([acao(), ['Content-Disposition', 'inline'], ['Content-Disposition', 'attachment']])], { verdict: 'blocked', failedStep: 'actual request: Content-Disposition' }, 'chromium'],
  ['... the standard reads Location only on a redirect', {}, [ok([acao(), ['Location', '/a'], ['Location', '/b']])], { verdict: 'allowed' }, 'standard'],
  ['two Location fields that differ: a network error', {}, [ok([acao(), ['Location', '/a'], ['Location', '/b']], 302)], { verdict: 'blocked', failedStep: 'redirect: Location' }, 'chromium'],
  ['... the same twice: Chromium follows it', {}, [ok([acao(), ['Location', '/a'], ['Location', '/a']], 302), ok([acao()])], { verdict: 'allowed' }, 'chromium'],
  ['... the standard does not (Location takes one value)', {}, [ok([acao(), ['Location', '/a'], ['Location', '/a']], 302)], { verdict: 'blocked', failedStep: 'redirect: Location' }, 'standard'],
  ['... nor same-origin', { url: `${O}/x` }, [ok([['Location', '/a'], ['Location', '/b']], 302)], { verdict: 'blocked', failedStep: 'redirect: Location' }, 'standard'],
  ['... and a CORS failure on that redirect is named first', {}, [ok([['Location', '/a'], ['Location', '/b']], 302)], { verdict: 'blocked', failedStep: 'redirect: CORS check: Access-Control-Allow-Origin' }, 'standard'],
  ['a conditional request\'s preflight is never cached by Chromium (Max-Age 600: maxAge 0)', { method: 'PUT', headers: [['If-None-Match', '"e"']] }, [ok([acao(), ['Access-Control-Allow-Methods', 'PUT'], ['Access-Control-Allow-Headers', 'if-none-match'], ['Access-Control-Max-Age', '600']], 204), ok([acao()])], { verdict: 'allowed', maxAge: 0 }, 'chromium'],
  ['... nor by Firefox', { method: 'PUT', headers: [['If-Range', '"e"']] }, [ok([acao(), ['Access-Control-Allow-Methods', 'PUT'], ['Access-Control-Allow-Headers', 'if-range'], ['Access-Control-Max-Age', '600']], 204), ok([acao()])], { verdict: 'allowed', maxAge: 0 }, 'firefox'],
  ['... the standard caches it', { method: 'PUT', headers: [['If-None-Match', '"e"']] }, [ok([acao(), ['Access-Control-Allow-Methods', 'PUT'], ['Access-Control-Allow-Headers', 'if-none-match'], ['Access-Control-Max-Age', '600']], 204), ok([acao()])], { verdict: 'allowed', maxAge: 600 }, 'standard'],
  ['... and so does Chromium without one', { method: 'PUT', headers: [['X-Token', 'x']] }, [ok([acao(), ['Access-Control-Allow-Methods', 'PUT'], ['Access-Control-Allow-Headers', 'x-token'], ['Access-Control-Max-Age', '600']], 204), ok([acao()])], { verdict: 'allowed', maxAge: 600 }, 'chromium'],
  ['Chromium never caches a preflight from an opaque-origin page ("null")', { origin: 'null', method: 'PUT' }, [ok([acao('null'), ['Access-Control-Allow-Methods', 'PUT'], ['Access-Control-Max-Age', '600']], 204), ok([acao('null')])], { verdict: 'allowed', maxAge: 0 }, 'chromium'],
  ['... the standard does, under "null"', { origin: 'null', method: 'PUT' }, [ok([acao('null'), ['Access-Control-Allow-Methods', 'PUT'], ['Access-Control-Max-Age', '600']], 204), ok([acao('null')])], { verdict: 'allowed', maxAge: 600 }, 'standard'],
  ['Chromium drops Access-Control-Request-Private-Network set by script: no preflight', { headers: [['Access-Control-Request-Private-Network', 'true']] }, [ok([acao()])], { verdict: 'allowed', preflight: false }, 'chromium'],
  ['Chromium fails a request with DEL in a header value after its preflight', { headers: [['Accept', 'a\x7fb']] }, [ok([acao(), ['Access-Control-Allow-Headers', 'accept']], 204)], { verdict: 'blocked', preflight: true, failedStep: 'actual request: header value' }, 'chromium'],
  ['... the standard sends it', { headers: [['Accept', 'a\x7fb']] }, [ok([acao(), ['Access-Control-Allow-Headers', 'accept']], 204), ok([acao()])], { verdict: 'allowed', preflight: true }, 'standard'],
];

for (const [name, req, responses, expected, browser = 'standard'] of cases) {
  test(`${browser}: ${name}`, () => {
    const v = evaluateCors({ url: U, origin: O, ...req, browser, responses });
    for (const [k, e] of Object.entries(expected)) assert.deepEqual(v[k], e, `${k}: ${JSON.stringify(v, null, 1)}`);
    if (v.verdict === 'blocked') assert.ok(v.reason && v.fix && v.spec?.startsWith('https://fetch.spec.whatwg.org/#'), 'blocked has a reason, a fix and a section');
    else assert.equal(v.reason, null);
  });
}

test('a method listed in another case: the fix offers the script only a form it can send (fetch() upper-cases six methods itself)', () => {
  const preflight = (method, listed) => evaluateCors({ url: U, origin: O, method, responses: [ok([acao(), ['Access-Control-Allow-Methods', listed]], 204)] });
  const patch = preflight('PATCH', 'patch, put');
  assert.match(patch.reason, /fetch\(\) sends "PATCH" as the script wrote it \(it upper-cases only DELETE, GET, HEAD, OPTIONS, POST, PUT\)/);
  assert.doesNotMatch(patch.fix, /have the script send/, patch.fix);
  const put = preflight('put', 'put');
  assert.match(put.reason, /fetch\(\) sends "PUT" \(it upper-cases PUT in whatever case the script wrote it\)/);
  assert.equal(put.fix, 'List "PUT" exactly as the browser sends it (Access-Control-Allow-Methods: put, PUT).');
  const lower = preflight('patch', 'PATCH');
  assert.match(lower.fix, /List "patch" exactly .*, or have the script send "PATCH"\.$/);
});

test('a page whose own origin is opaque (--origin null) is told to answer "null"; only a redirect\'s "null" is blamed on the redirect', () => {
  const page = evaluateCors({ url: U, origin: 'null', responses: [ok([acao()])] });
  assert.equal(page.verdict, 'blocked');
  assert.match(page.reason, /the page's own origin is opaque/);
  assert.doesNotMatch(`${page.reason} ${page.fix}`, /redirect/);
  assert.match(page.fix, /answer "Access-Control-Allow-Origin: null" \(or "\*" without credentials\)/);
  const preflighted = evaluateCors({ url: U, origin: 'null', method: 'PUT', responses: [ok([acao(), ['Access-Control-Allow-Methods', 'PUT']], 204)] });
  assert.match(preflighted.fix, /Access-Control-Allow-Origin: null/);
  assert.equal(evaluateCors({ url: U, origin: 'null', credentials: 'include', responses: [ok([acao('null'), ['Access-Control-Allow-Credentials', 'true']])] }).verdict, 'allowed');
  const redirected = evaluateCors({ url: U, origin: O, responses: [ok([acao(), ['Location', 'https://other.example/x']], 302), ok([acao()])] });
  assert.match(redirected.reason, /a cross-origin redirect made the request origin "null"/);
  assert.match(redirected.fix, /must answer "Access-Control-Allow-Origin: \*" \(without credentials\) or "null"/);
});

test('a redirect that cannot be followed (to plain HTTP from an HTTPS page, to another scheme) is the failed step, with no note about a request never sent', () => {
  const mixed = evaluateCors({ url: U, origin: O, responses: [ok([acao('*'), ['Location', 'http://api.example/x']], 302)] });
  assert.deepEqual([mixed.verdict, mixed.failedStep, mixed.steps.map((s) => s.outcome)], ['blocked', 'redirect: mixed content', ['failed']]);
  assert.deepEqual(mixed.notes.filter((n) => /taints/.test(n)), []);
  const scheme = evaluateCors({ url: U, origin: O, responses: [ok([acao('*'), ['Location', 'ftp://api.example/x']], 302)] });
  assert.deepEqual(scheme.steps.map((s) => s.outcome), ['failed']);
});

test('too few answers: pending, with the next request to send', () => {
  const v = evaluateCors({ url: U, origin: O, method: 'PUT', headers: [['X-B', '1'], ['x-a', '2'], ['Accept', 'x']], responses: [] });
  assert.equal(v.verdict, 'pending');
  assert.deepEqual(v.next, {
    kind: 'preflight', url: U, method: 'OPTIONS',
    headers: [['Origin', O], ['Accept', '*/*'], ['Access-Control-Request-Method', 'PUT'], ['Access-Control-Request-Headers', 'x-a,x-b']],
  });
});

test('1,024 bytes of safelisted values in total makes them all unsafe', () => {
  const rules = rulesFor('standard');
  const h = (n) => Array.from({ length: n }, (_, i) => ['Accept-Language', 'a'.repeat(128)]).concat([['Accept', 'x'.repeat(n === 8 ? 1 : 0)]]);
  assert.deepEqual(unsafeHeaderNames(h(8), rules).names, ['accept', 'accept-language']);
  assert.deepEqual(unsafeHeaderNames(h(7), rules).names, []);
});

test('readable headers: safelisted, ACEH, * only without credentials, never Set-Cookie', () => {
  const res = ok([['Content-Type', 'x'], ['X-A', '1'], ['X-B', '1'], ['Set-Cookie', 'a=1'], ['Access-Control-Expose-Headers', 'x-a, set-cookie']]);
  assert.deepEqual(readableHeaders(res, 'omit'), ['content-type', 'x-a']);
  const star = ok([['Content-Type', 'x'], ['X-A', '1'], ['Set-Cookie', 'a=1'], ['Access-Control-Expose-Headers', '*']]);
  assert.deepEqual(readableHeaders(star, 'omit'), ['access-control-expose-headers', 'content-type', 'x-a']);
  assert.deepEqual(readableHeaders(star, 'include'), ['content-type']);
});

test('max-age: the default, and the Chromium and Firefox caps', () => {
  const pre = (v) => [ok([acao(), ['Access-Control-Allow-Methods', 'PUT'], ...(v === undefined ? [] : [['Access-Control-Max-Age', v]])], 204), ok([acao()])];
  const age = (browser, v) => evaluateCors({ url: U, origin: O, method: 'PUT', browser, responses: pre(v) }).maxAge;
  assert.equal(age('standard', undefined), 5);
  assert.equal(age('standard', '999999'), 999999);
  assert.equal(age('chromium', '999999'), 7200);
  assert.equal(age('firefox', '999999'), 86400);
  assert.equal(age('standard', '-1'), 5);
  // An invalid value: the standard's default; Chromium 150 reads a negative number as 0 (not cached),
  // Firefox ESR 153 any invalid non-empty value (found by a two-fetch probe in both browsers).
  for (const [v, s, c, f] of [['-1', 5, 0, 0], ['-0', 5, 0, 0], ['1.5', 5, 5, 0], ['abc', 5, 5, 0], ['', 5, 5, 5], ['05', 5, 5, 5]]) {
    assert.deepEqual([age('standard', v), age('chromium', v), age('firefox', v)], [s, c, f], JSON.stringify(v));
  }
  // Two lines: the standard reads "5, 5" or "5, " (invalid, so 5 s); Firefox skips the empty line.
  const ages = (browser, ...vs) => evaluateCors({ url: U, origin: O, method: 'PUT', browser, responses: [ok([acao(), ['Access-Control-Allow-Methods', 'PUT'], ...vs.map((v) => ['Access-Control-Max-Age', v])], 204), ok([acao()])] }).maxAge;
  assert.deepEqual([ages('standard', '600', ''), ages('chromium', '600', ''), ages('firefox', '600', '')], [5, 5, 600]);
  assert.deepEqual([ages('standard', '600', '600'), ages('chromium', '600', '600'), ages('firefox', '600', '600')], [5, 5, 0]);
});

test('bad input: one clear CheckInputError', () => {
  const bad = [
    { origin: 'app.example' }, { origin: 'https://app.example/path' }, { origin: 'ftp://x' }, { url: 'not a url' },
    { method: 'TRACE' }, { headers: [['X-A', 'a\nb']] }, { headers: [['Bad Name', 'x']] }, { credentials: 'sometimes' },
  ];
  for (const b of bad) assert.throws(() => evaluateCors({ url: U, origin: O, ...b, responses: [] }), CheckInputError, JSON.stringify(b));
});

test('an origin with its scheme\'s default port is refused for that reason, not as a path', () => {
  for (const [origin, port] of [['https://app.example:443', ':443 is the default port for https'], ['http://app.example:80/', ':80 is the default port for http']]) {
    assert.throws(() => evaluateCors({ url: U, origin, responses: [] }), (e) => e instanceof CheckInputError && e.message.includes(port) && !e.message.includes('path'), origin);
  }
  // Another port is part of the origin.
  assert.doesNotThrow(() => evaluateCors({ url: U, origin: 'https://app.example:8443', responses: [ok([acao()])] }));
});

test('an origin written in another form of its host is the origin a browser sends, not "a path"', () => {
  // The page at http://0x7f000001:3000 sends Origin: http://127.0.0.1:3000; the rest of the text was
  // once read past the serialised origin's length, and these were refused as having a path.
  for (const [text, origin] of [
    ['http://0x7f000001:3000', 'http://127.0.0.1:3000'], ['http://2130706433:3000', 'http://127.0.0.1:3000'], ['http://127.1:3000', 'http://127.0.0.1:3000'],
    ['https://ex%41mple.com', 'https://example.com'], ['HTTPS://App.Example.com/', 'https://app.example.com'],
  ]) assert.equal(parseOrigin(text), origin, text);
  assert.throws(() => parseOrigin('http://[::1]:80'), /:80 is the default port for http/);
  assert.throws(() => parseOrigin('https://a.example?x'), /no path, query or fragment/);
  // A backslash ends the authority as "/" does; a text that is not scheme://… is no origin as written.
  assert.throws(() => parseOrigin('http://a.example\\path'), /no path, query or fragment/);
  assert.throws(() => parseOrigin('https://a.example:443\\'), /:443 is the default port for https/);
  for (const text of ['http:a.example', 'http:/a.example', ' http://a.example']) assert.throws(() => parseOrigin(text), /not an origin/, text);
});

test('forbidden request headers are dropped with a note', () => {
  const v = evaluateCors({ url: U, origin: O, headers: [['Cookie', 'a=1'], ['Sec-Foo', '1']], responses: [ok([acao()])] });
  assert.equal(v.preflight, false);
  assert.equal(v.notes.length, 2);
});

test('a cross-origin redirect drops Authorization and a 303 turns PUT into GET', () => {
  const seen = [];
  const v = evaluateCors({
    url: U, origin: O, method: 'PUT', headers: [['Authorization', 'x']],
    responses: (req) => {
      seen.push(req);
      if (req.url === U && req.kind === 'preflight') return ok([acao(), ['Access-Control-Allow-Methods', 'PUT'], ['Access-Control-Allow-Headers', 'authorization']], 204);
      if (req.url === U) return ok([acao(), ['Location', 'https://other.example/y']], 303);
      return ok([acao('*')]);
    },
  });
  assert.equal(v.verdict, 'allowed');
  const last = seen.at(-1);
  assert.equal(last.method, 'GET');
  assert.deepEqual(last.headers, [['Origin', 'null']]);
});
