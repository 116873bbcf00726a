// `xorigin/check`: the browser's CORS verdict for one request, as the Fetch standard and each engine decide it.
export { evaluateCors, parseOrigin, parseUrl } from './evaluate.js';
export { normalizeMethod, isSafelistedMethod, whyNotSafelisted, unsafeHeaderNames, mimeEssence, isSimpleRange, type UnsafeHeaders } from './request.js';
export { corsCheck, type Failure } from './cors-check.js';
export { checkPreflight, preflightMaxAge, preflightRequest } from './preflight.js';
export { readableHeaders, SAFELISTED_RESPONSE } from './readable.js';
export { rulesFor, type EngineRules, type RangeRules } from './rules.js';
export { parseHeaderLine } from './headers.js';
export { explainDenied, sanitize, type DeniedRequest, type DenialExplained } from '../cors/explain.js';
export {
  CheckInputError, type Browser, type CheckRequest, type CorsInput, type CorsVerdict, type Credentials, type HeaderPair,
  type OutgoingRequest, type ServerResponse, type Step,
} from './types.js';
export type * from '../cors/public-types.js';
