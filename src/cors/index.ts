// `xorigin/cors`: the CORS engine and its node:http / Connect / Express face, without the file server.
export { Cors, createCors, type NextFunction, type NodeRequest, type NodeResponse } from './node.js';
export { CorsEngine, RequestKind, classify, type PreflightAnswer } from './engine.js';
export { compilePolicy, type CorsOptions, type CompiledPolicy, type DeniedInfo } from './options.js';
export { PolicyError, type PolicyProblem } from './errors.js';
// The types public members are declared with (CompiledPolicy's, CorsEngine's), so that code declaring
// them (`declaration: true`) can name them; erased from the JavaScript, so no bytes are added.
export type { OriginMatcher } from './origin-matcher.js';
export type { OriginPattern } from './origin-pattern.js';
export type { HeaderNameSet } from './request-headers.js';
export type { ActualBlocks, PreflightBlock, PreflightBlocks } from './response-headers.js';
