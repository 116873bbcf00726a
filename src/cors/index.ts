// `xorigin/cors`: the CORS engine and its node:http / Connect / Express face, without the file server.
export { Cors, createCors, type NextFunction, type NodeRequest, type NodeResponse } from './node.js';
export { CorsEngine, RequestKind, classify, type PreflightAnswer } from './engine.js';
export { compilePolicy, type CorsOptions, type CompiledPolicy, type DeniedInfo } from './options.js';
export { PolicyError, type PolicyProblem } from './errors.js';
export type * from './public-types.js';
