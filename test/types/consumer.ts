// Compiled by test/types.test.js (tsc --strict, nodenext), never run: the published declarations
// (dist/*.d.ts, reached through package.json "exports" as a user's import would) must accept what
// the README shows. A line that stops compiling is a break for users.
import http from 'node:http';
import http2 from 'node:http2';
import Fastify from 'fastify';
import { Hono } from 'hono';
import { createCors, CorsEngine, PolicyError, RequestKind, type CompiledPolicy, type CorsOptions, type NodeRequest, type NodeResponse } from 'xorigin/cors';
import { withCors } from 'xorigin/fetch';
import xoriginCors from 'xorigin/fastify';
import { createStaticHandler, serve } from 'xorigin/static';
import { evaluateCors } from 'xorigin/check';

const options: CorsOptions = { origins: ['https://app.example.com'], methods: ['PUT'], maxAge: 600 };
const cors = createCors(options);
const files = await createStaticHandler({ root: './fonts', cors: options });

// node:http, and a Connect-style stack.
http.createServer((req, res) => {
  if (cors.handle(req, res)) return;
  files(req, res, () => res.end());
});

// node:http2's compatibility API: the same handle and handler (README "Vary", "Access log").
http2.createSecureServer({}, (req, res) => {
  if (cors.handle(req, res)) return;
  files(req, res);
});
// classify and answerPreflight take what handle takes (README API table).
http2.createSecureServer({}, (req, res) => {
  if (cors.classify(req) === RequestKind.Preflight) cors.answerPreflight(res, req.headers.origin ?? '', 'PUT', undefined);
});
const middleware: (req: NodeRequest, res: NodeResponse, next: (err?: unknown) => void) => void = cors.middleware;

// Fastify.
const app = Fastify();
await app.register(xoriginCors, options);
await app.register(xoriginCors, { ...options, prefix: '/api', logLevel: 'warn' }); // Fastify's own register options beside the policy
app.xoriginCors.reconfigure({ ...options, maxAge: 60 }); // the policy changed at run time
app.xoriginCors.reconfigure({ ...options, prefix: '/api' }); // Fastify's register options beside it, as at registration
const fastifyPolicy: CompiledPolicy = app.xoriginCors.policy;

// Fetch API: Hono, and a Workers-style handler with env and ctx.
const hono = new Hono();
const fetchHandler: (request: Request) => Promise<Response> = withCors(options, (request: Request) => hono.fetch(request));
type Env = { readonly bucket: string };
const worker = withCors(options, async (_request: Request, env: Env) => new Response(env.bucket));
const answered: Promise<Response> = worker(new Request('https://x.example/'), { bucket: 'b' });
worker.reconfigure({ origins: ['*'] });
const fetchPolicy: CompiledPolicy = worker.policy;
// Bun.serve's fetch returns nothing once server.upgrade(request) took the connection.
const upgrading = withCors(options, (request: Request) => (request.headers.has('upgrade') ? undefined : new Response('x')));
const maybe: Promise<Response | undefined> = upgrading(new Request('https://x.example/'));
const voidTyped = withCors(options, async (request: Request): Promise<Response | void> => {
  if (request.headers.has('upgrade')) return;
  return new Response('x');
});
const maybeToo: Promise<Response | undefined> = voidTyped(new Request('https://x.example/'));

// The server, the engine, errors, and the check.
const server = await serve({ root: './fonts', cors: { origins: ['*'] } });
server.listen(0, '127.0.0.1');
const decided: number = new CorsEngine(options).decidePreflight('https://app.example.com', 'PUT', undefined).status;
try {
  createCors({ origins: [] });
} catch (error) {
  if (error instanceof PolicyError) console.log(error.problems.map((p) => p.fix));
}
console.log(middleware, fetchHandler, answered, decided, typeof evaluateCors, fastifyPolicy, fetchPolicy);
