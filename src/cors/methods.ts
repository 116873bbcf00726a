/**
 * Request methods as the Fetch standard treats them. The one home of these lists: the policy
 * compiler and the engine both import them.
 */
import { equalsLower } from '../http/tokens.js';

/** CORS-safelisted methods (Fetch §2.2.1): a preflight asking for one passes without a listing. */
export const SAFELISTED_METHODS: readonly string[] = ['GET', 'HEAD', 'POST'];

/** Fetch's forbidden methods, lowercase: browsers never send them, and allowing them only helps attacks. */
export const FORBIDDEN_METHODS: readonly string[] = ['connect', 'trace', 'track'];

/** Fetch normalises these (byte-uppercase, Fetch §2.2.1 "normalize"); every other method is sent as written. */
export const NORMALISED_METHODS: readonly string[] = ['delete', 'get', 'head', 'options', 'post', 'put'];

/** True for CONNECT, TRACE and TRACK in any case, without allocating. */
export function isForbiddenMethod(method: string): boolean {
  return equalsLower(method, 'connect') || equalsLower(method, 'trace') || equalsLower(method, 'track');
}
