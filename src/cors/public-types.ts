// The types the public members of every entry point are declared with (a policy, its compiled form,
// the node:http face's request and response). Each entry re-exports them (`export type *`), so a
// project importing only `xorigin/fastify` or `xorigin/check` can still name them: declaration emit
// otherwise fails with TS2742 ("cannot be named without a reference to .../dist/..."). Types only:
// erased from the JavaScript.
export type { CorsOptions, CompiledPolicy, DeniedInfo } from './options.js';
export type { PolicyProblem } from './errors.js';
export type { OriginMatcher } from './origin-matcher.js';
export type { OriginPattern } from './origin-pattern.js';
export type { HeaderNameSet } from './request-headers.js';
export type { ActualBlocks, PreflightBlock, PreflightBlocks } from './response-headers.js';
export type { NextFunction, NodeRequest, NodeResponse } from './node.js';
