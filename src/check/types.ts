// Types shared by the `xorigin/check` modules: what a script asks for, what went on the wire, and the
// verdict. No node: import anywhere in src/check/ except the command's network driver (src/cli/).

/** Whose rules decide: the Fetch standard's, or a shipping engine's (the standard plus its deviations). */
export type Browser = 'standard' | 'chromium' | 'firefox';
/** fetch()'s `credentials`. */
export type Credentials = 'omit' | 'same-origin' | 'include';
/** One header as written: name and value, case and order kept, repeated names allowed. */
export type HeaderPair = readonly [name: string, value: string];

/** What the script does: `fetch(url, { method, headers, credentials })` from a page on `origin`, or a font load. */
export interface CheckRequest {
  readonly url: string;
  /** The page's origin (`https://app.example`), or `null` for an opaque origin. */
  readonly origin: string;
  /** As the script writes it; fetch() upper-cases only DELETE, GET, HEAD, OPTIONS, POST and PUT. */
  readonly method?: string;
  readonly headers?: readonly HeaderPair[];
  /** Default `same-origin`, as fetch(). */
  readonly credentials?: Credentials;
  /** `font`: an @font-face load, a CORS GET with credentials `same-origin` and no script headers. */
  readonly as?: 'fetch' | 'font';
}

/** A request the browser puts on the wire. */
export interface OutgoingRequest {
  readonly kind: 'preflight' | 'actual';
  readonly url: string;
  readonly method: string;
  /** The CORS-relevant headers the browser sends (Origin, Access-Control-Request-*, the script's headers). */
  readonly headers: readonly HeaderPair[];
}

/** What the server answered: the status and the header fields as received (repeated names kept). */
export interface ServerResponse {
  readonly status: number;
  readonly headers: readonly HeaderPair[];
  /** `HTTP/1.1` or `HTTP/2`, as the answer came (`xorigin check` fills it in); shown, never judged. */
  readonly protocol?: string;
}

/** The input of evaluateCors(): a request as a script makes it, the engine, and the server's answers. */
export interface CorsInput extends CheckRequest {
  /** Whose rules decide (default `standard`: the Fetch standard's). */
  readonly browser?: Browser;
  /**
   * The server's answers, in the order the browser sends its requests (see `next` in the verdict),
   * or a function answering each request. With too few answers the verdict is `pending`.
   */
  readonly responses: readonly ServerResponse[] | ((request: OutgoingRequest) => ServerResponse);
}

/** One request and its answer, with the header fields that decided the step. */
export interface Step {
  readonly request: OutgoingRequest;
  readonly response: ServerResponse;
  /** `passed`, `redirect`, or `failed`. */
  readonly outcome: 'passed' | 'redirect' | 'failed';
  /** The response header fields the step looked at, as `Name: value` (or `Name: (absent)`). */
  readonly mattered: readonly string[];
}

/** What the browser decides (Fetch §4.8 CORS-preflight fetch, §4.9 CORS check) and why. */
export interface CorsVerdict {
  /** `pending` when an answer the browser would need was not given. */
  readonly verdict: 'allowed' | 'blocked' | 'pending';
  readonly browser: Browser;
  /** Whether a preflight goes on the wire (for the first URL or after a redirect). */
  readonly preflight: boolean;
  /** The status script sees when allowed; null when blocked. */
  readonly status: number | null;
  /** The response header names (lower case, sorted) script can read; empty when blocked. */
  readonly readable: readonly string[];
  /** Why it was blocked; null when allowed. */
  readonly reason: string | null;
  /** The exact failing step: `preflight: CORS check: Access-Control-Allow-Origin`. */
  readonly failedStep: string | null;
  /** The Fetch standard section of the failing step (a URL). */
  readonly spec: string | null;
  /** What the server's operator should change. */
  readonly fix: string | null;
  /** How long the browser caches the preflight, in seconds (after its cap); null without a preflight. */
  readonly maxAge: number | null;
  readonly steps: readonly Step[];
  /** With `pending`: the request whose answer is needed next. */
  readonly next: OutgoingRequest | null;
  /** Things worth knowing that did not decide the verdict (headers fetch() drops, a tainted origin). */
  readonly notes: readonly string[];
}

/** Bad input (not an origin, a malformed header): one line, never a stack trace at the command line. */
export class CheckInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CheckInputError';
  }
}

/** A link to a section of the Fetch standard. */
export const spec = (anchor: string): string => `https://fetch.spec.whatwg.org/#${anchor}`;
