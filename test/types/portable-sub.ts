// As portable.ts, for a project that imports only the sub-entries (never 'xorigin' or 'xorigin/cors'):
// each must export the types its own public members are declared with, or declaration emit cannot
// name them (TS2742). Compiled alone by test/types.test.js, never run.
import { withCors } from 'xorigin/fetch';
import { xoriginCors } from 'xorigin/fastify';
import { createStaticHandler, type ServerOptions } from 'xorigin/static';
import { explainDenied } from 'xorigin/check';

export const plugins = [xoriginCors];
export const wrapped = withCors({ origins: ['https://app.example'] }, () => new Response('ok'));
declare const options: ServerOptions;
export const cors = options.cors;
export const handler = await createStaticHandler({ root: '.' });
export const matcherOf = (policy: Parameters<typeof explainDenied>[0]) => policy.matcher;
export const headersOf = (policy: Parameters<typeof explainDenied>[0]) => policy.allowedHeaders;
