// node:http + npm cors + sirv: the minimal npm stack a user would assemble instead.
import { createServer } from 'node:http';
import cors from 'cors';
import sirv from 'sirv';
import { originList, policy, ready, root } from './common.js';

const corsMw = cors({ origin: originList, methods: ['GET', 'HEAD', ...policy.methods], allowedHeaders: policy.allowedHeaders, maxAge: policy.maxAge, optionsSuccessStatus: 204 });
const files = sirv(root, { etag: true, dev: false });
ready(createServer((req, res) => {
  corsMw(req, res, () => files(req, res));
}));
