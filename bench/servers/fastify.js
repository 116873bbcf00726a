// fastify + @fastify/cors + @fastify/static.
import Fastify from 'fastify';
import fastifyCors from '@fastify/cors';
import fastifyStatic from '@fastify/static';
import { originList, policy, root } from './common.js';

const app = Fastify({ logger: false });
await app.register(fastifyCors, { origin: originList, methods: ['GET', 'HEAD', ...policy.methods], allowedHeaders: policy.allowedHeaders, maxAge: policy.maxAge });
await app.register(fastifyStatic, { root });
const address = await app.listen({ port: 0, host: '127.0.0.1' });
process.stdout.write(`ready ${new URL(address).port}\n`);
