// express + cors + express.static.
import express from 'express';
import cors from 'cors';
import { originList, policy, ready, root } from './common.js';

const app = express();
app.disable('x-powered-by');
app.use(cors({ origin: originList, methods: ['GET', 'HEAD', ...policy.methods], allowedHeaders: policy.allowedHeaders, maxAge: policy.maxAge, optionsSuccessStatus: 204 }));
app.use(express.static(root));
const server = app.listen(0, '127.0.0.1', () => process.stdout.write(`ready ${server.address().port}\n`));
