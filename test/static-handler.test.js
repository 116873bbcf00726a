// createStaticHandler: the file server as a handler, standalone and mounted under Express.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import express from 'express';
import { createStaticHandler } from '../dist/static/index.js';
import { listen, request } from './helpers.js';

const APP = 'https://app.example.com';

describe('mounted under Express at /fonts', () => {
  let root;
  let handler;
  let s;
  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'xorigin-mount-'));
    mkdirSync(join(root, 'sub'));
    writeFileSync(join(root, 'a.woff2'), 'font-a');
    writeFileSync(join(root, 'sub', 'index.html'), '<p>sub</p>');
    handler = await createStaticHandler({ root, cors: { origins: [APP] } });
    const app = express();
    app.use('/fonts', handler);
    app.get('/fonts/dynamic', (req, res) => res.send('from the app'));
    app.post('/fonts/a.woff2', (req, res) => res.send('app POST'));
    app.use((req, res) => res.status(404).send('app 404'));
    s = await listen(app);
  });
  after(async () => {
    await s.close();
    handler.close();
    rmSync(root, { recursive: true, force: true });
  });

  test('serves the root at the prefix, with CORS', async () => {
    const res = await request(s.port, { path: '/fonts/a.woff2', headers: { Origin: APP } });
    assert.equal(res.status, 200);
    assert.equal(res.body.toString(), 'font-a');
    assert.equal(res.headers['access-control-allow-origin'], APP);
    assert.equal(res.headers['content-type'], 'font/woff2');
  });

  test('a miss, and methods it does not serve, go to next()', async () => {
    assert.equal((await request(s.port, { path: '/fonts/dynamic' })).body.toString(), 'from the app');
    assert.equal((await request(s.port, { path: '/fonts/nope.woff2' })).body.toString(), 'app 404');
    assert.equal((await request(s.port, { method: 'POST', path: '/fonts/a.woff2' })).body.toString(), 'app POST');
    assert.equal((await request(s.port, { path: '/elsewhere' })).body.toString(), 'app 404');
  });

  test('preflights for its files are answered; for the app\'s paths they go to next()', async () => {
    const pre = { Origin: APP, 'Access-Control-Request-Method': 'GET', 'Access-Control-Request-Headers': 'range' };
    const mine = await request(s.port, { method: 'OPTIONS', path: '/fonts/a.woff2', headers: pre });
    assert.equal(mine.status, 204);
    assert.equal(mine.headers['access-control-allow-origin'], APP);
    const theirs = await request(s.port, { method: 'OPTIONS', path: '/fonts/dynamic', headers: pre });
    assert.equal(theirs.headers['access-control-allow-origin'], undefined);
  });

  test('a directory without its slash redirects within the mount point', async () => {
    const res = await request(s.port, { path: '/fonts/sub?x=1' });
    assert.equal(res.status, 308);
    assert.equal(res.headers.location, '/fonts/sub/?x=1');
  });
});

test('standalone as a node:http listener: 404 and 405 are its own, with CORS', async () => {
  const root = mkdtempSync(join(tmpdir(), 'xorigin-alone-'));
  writeFileSync(join(root, 'a.woff2'), 'font-a');
  const handler = await createStaticHandler({ root, cors: { origins: ['*'] } });
  const s = await listen(handler);
  try {
    const miss = await request(s.port, { path: '/nope' });
    assert.equal(miss.status, 404);
    assert.equal(miss.headers['access-control-allow-origin'], '*');
    assert.equal((await request(s.port, { method: 'POST', path: '/a.woff2' })).status, 405);
    assert.equal(handler.stats.inFlight, 0);
  } finally {
    await s.close();
    handler.close();
    rmSync(root, { recursive: true, force: true });
  }
});
