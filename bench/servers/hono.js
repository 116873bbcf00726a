// hono + @hono/node-server with hono's cors and the node-server serveStatic.
import { Hono } from 'hono';
import { cors } from 'hono/cors';
import { serve } from '@hono/node-server';
import { serveStatic } from '@hono/node-server/serve-static';
import { relative } from 'node:path';
import { patternRegex, policy, root } from './common.js';

const exact = new Set(policy.exact);
const app = new Hono();
app.use('*', cors({
  origin: (origin) => (exact.has(origin) || (patternRegex !== null && patternRegex.test(origin)) ? origin : null),
  allowMethods: ['GET', 'HEAD', ...policy.methods],
  allowHeaders: policy.allowedHeaders,
  maxAge: policy.maxAge,
}));
app.use('*', serveStatic({ root: relative(process.cwd(), root) }));
const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info) => process.stdout.write(`ready ${info.port}\n`));
void server;
