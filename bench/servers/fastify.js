// fastify + @fastify/cors + @fastify/static. With BENCH_CERT and BENCH_KEY (bench/run-h2.js):
// `http2: true` over TLS, HTTP/1.1 allowed by ALPN, as xorigin.
import { readFileSync } from 'node:fs';
import Fastify from 'fastify';
import fastifyCors from '@fastify/cors';
import fastifyStatic from '@fastify/static';
import { originList, policy, root } from './common.js';

const tls = process.env.BENCH_CERT ? { http2: true, https: { allowHTTP1: true, cert: readFileSync(process.env.BENCH_CERT), key: readFileSync(process.env.BENCH_KEY) } } : {};
const app = Fastify({ logger: false, ...tls });
await app.register(fastifyCors, { origin: originList, methods: ['GET', 'HEAD', ...policy.methods], allowedHeaders: policy.allowedHeaders, maxAge: policy.maxAge });
await app.register(fastifyStatic, { root });
const address = await app.listen({ port: 0, host: '127.0.0.1' });
process.stdout.write(`ready ${new URL(address).port}\n`);
