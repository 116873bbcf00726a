// xorigin's CORS engine embedded in a plain node:http handler, with sirv serving the files.
import { createServer } from 'node:http';
import sirv from 'sirv';
import { Cors } from '../../dist/cors/index.js';
import { policy, ready, root } from './common.js';

const origins = policy.pattern === null ? policy.exact : [...policy.exact, policy.pattern];
const cors = new Cors({ origins, methods: policy.methods, allowedHeaders: policy.allowedHeaders, maxAge: policy.maxAge });
const files = sirv(root, { etag: true, dev: false });
const notFound = () => {};
ready(createServer((req, res) => {
  if (cors.handle(req, res)) return;
  files(req, res, notFound);
}));
