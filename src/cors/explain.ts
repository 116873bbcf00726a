// Explain mode, the server's side: why a policy refused a preflight or an actual request, as one
// sanitised line. Beside the engine, whose compiled policy it reads, but not part of it:
// xorigin/cors does not load it (its size is capped); the server loads it and calls it only when
// `debug` is on, and xorigin/check exports it.
import type { CompiledPolicy } from './options.js';
import { NO_MATCH } from './origin-matcher.js';
import { allowsMethod, miscasedRegisteredMethod, SAFELISTED_METHODS } from './methods.js';
import { MAX_REQUEST_HEADERS_BYTES, MAX_REQUEST_HEADERS_ELEMENTS } from './request-headers.js';
import { hex, UNSAFE } from '../http/terminal-safe.js';
import { isToken } from '../http/tokens.js';
import { withoutOws } from '../http/whitespace.js';

/** A refused request, as the server saw it. `method` and `requestHeaders` are a preflight's ACRM and ACRH. */
export interface DeniedRequest {
  readonly kind: 'preflight' | 'actual';
  readonly origin: string;
  /** For a preflight: Access-Control-Request-Method. For an actual request: its method. */
  readonly method?: string | undefined;
  readonly requestHeaders?: string | undefined;
  /** The request target, for the line (`/fonts/a.woff2`). */
  readonly target?: string | undefined;
}

/** Why a policy refused a request (explainDenied). */
export interface DenialExplained {
  /** What failed: the origin, the method, one request header, the header list's bounds or its syntax. */
  readonly reason: 'origin' | 'method' | 'header' | 'header-list-bound' | 'header-list-syntax' | 'none';
  /** One line, every request-supplied value escaped and truncated: safe for any log. */
  readonly line: string;
}

const LIMIT = 100;

/** What sanitize escapes besides `"` and `\`: what terminalSafe escapes, and tab and newline too. */
const UNSAFE_CHAR = new RegExp(`[\\x09\\x0a${UNSAFE}]`);

/**
 * A request-supplied value made safe for one log line: the characters terminalSafe escapes (controls,
 * bidirectional controls, characters that show as nothing, so two origins never print alike), tab,
 * newline, `"` and `\` escaped; longer than `max` characters, cut with the count of what was left out.
 */
export function sanitize(value: string, max = LIMIT): string {
  const cut = value.length > max ? value.slice(0, max) : value;
  let out = '';
  for (let i = 0; i < cut.length; i++) {
    const c = cut.charCodeAt(i);
    const ch = cut[i] as string;
    if (c === 0x22 || c === 0x5c) out += `\\${ch}`;
    else if (UNSAFE_CHAR.test(ch)) out += c > 0xff ? `\\u${hex(c, 4)}` : `\\x${hex(c, 2)}`;
    else out += ch;
  }
  return value.length > max ? `${out}...(${value.length - max} more)` : out;
}

const q = (s: string): string => `"${sanitize(s)}"`;
const list = (names: readonly string[]): string => (names.length === 0 ? 'none' : sanitize(names.join(', '), 200));

/** Why the list failed, or null when every element is allowed (the engine's scan, element by element). */
function headerProblem(policy: CompiledPolicy, value: string): { reason: DenialExplained['reason']; text: string } | null {
  if (value.length > MAX_REQUEST_HEADERS_BYTES) {
    return { reason: 'header-list-bound', text: `Access-Control-Request-Headers is ${value.length} bytes, over the ${MAX_REQUEST_HEADERS_BYTES}-byte bound` };
  }
  const elements = value.split(',');
  if (elements.length > MAX_REQUEST_HEADERS_ELEMENTS) {
    return { reason: 'header-list-bound', text: `Access-Control-Request-Headers has ${elements.length} elements, over the bound of ${MAX_REQUEST_HEADERS_ELEMENTS}` };
  }
  for (const raw of elements) {
    const name = withoutOws(raw);
    if (name === '') continue;
    if (!isToken(name)) return { reason: 'header-list-syntax', text: `Access-Control-Request-Headers is not a list of header names (at ${q(name)})` };
    if (policy.allowedHeaders.allowsList(name)) continue;
    const star = policy.allowedHeaders.any && name.toLowerCase() === 'authorization';
    return {
      reason: 'header',
      text: star
        ? 'request header "authorization" not allowed: "*" in allowedHeaders never covers it; list it too'
        : `request header ${q(name.toLowerCase())} not allowed (allowedHeaders: ${policy.allowedHeaders.any ? '*' : list(policy.allowedHeaders.names)})`,
    };
  }
  return null;
}

/**
 * Why `policy` refused this request, in the order the engine decides (origin, method, request
 * headers). Pure; every value from the request is sanitised.
 */
export function explainDenied(policy: CompiledPolicy, request: DeniedRequest): DenialExplained {
  const what = request.kind === 'preflight'
    ? `refused preflight${request.target === undefined ? '' : ` for ${q(request.target)}`}`
    : `no CORS headers for ${request.method === undefined ? 'a request' : sanitize(request.method, 20)}${request.target === undefined ? '' : ` ${q(request.target)}`}`;
  const line = (reason: DenialExplained['reason'], text: string): DenialExplained => ({ reason, line: `xorigin debug: ${what} from origin ${q(request.origin)}: ${text}` });
  if (!policy.anyOrigin && policy.matcher.match(request.origin) === NO_MATCH) {
    return line('origin', `origin not in the policy (origins: ${list(policy.origins.map((o) => o.source))})`);
  }
  if (request.kind === 'preflight') {
    const method = request.method ?? '';
    if (!allowsMethod(policy, method)) {
      const upper = miscasedRegisteredMethod(method);
      const hint = upper !== null && policy.methods.includes(upper) ? `; the policy has ${q(upper)}, methods compare case-sensitively` : '';
      return line('method', `method ${q(method)} not allowed (methods: ${SAFELISTED_METHODS.join(', ')}${policy.anyMethod ? ', *' : policy.methods.length > 0 ? `, ${list(policy.methods)}` : ''})${hint}`);
    }
    if (request.requestHeaders !== undefined && request.requestHeaders.length > 0) {
      const problem = headerProblem(policy, request.requestHeaders);
      if (problem !== null) return line(problem.reason, problem.text);
    }
  }
  return line('none', 'allowed by the policy');
}
