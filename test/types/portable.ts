// Compiled by test/types.test.js with declaration emit on (tsc --declaration), never run: a user's
// module that exports values typed by xorigin's public members must get a .d.ts, so every type those
// members are declared with must be exported by an entry point (else TS2742, "cannot be named").
import { compilePolicy, createCors, type ServerOptions } from 'xorigin';
import { createStaticHandler } from 'xorigin/static';
import { isSimpleRange, rulesFor, unsafeHeaderNames } from 'xorigin/check';

declare const options: ServerOptions;
export const tls = options.tls;
export const logFormat = options.logFormat;
const policy = compilePolicy({ origins: ['https://app.example', 'https://*.example.com'], allowedHeaders: ['x-token'] });
export const matcher = policy.matcher;
export const origins = policy.origins;
export const allowedHeaders = policy.allowedHeaders;
export const actualBlocks = createCors({ origins: ['*'] }).actualBlocks;
export const handler = await createStaticHandler({ root: '.' });
export const reload = handler.reload;
export const stats = handler.stats;
export const rules = rulesFor('chromium');
export const rangeRules = rules.range;
export const unsafe = unsafeHeaderNames;
export const simpleRange = isSimpleRange;
