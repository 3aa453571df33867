// Loads presence_core.mjs + .wasm in headless Chromium, served over HTTP the
// way a browser gets it, and drives a short client session in the page.
//
//   PRESENCE_WASM_DIR=build/wasm/wasm node --test tests/wasm/chromium_load.mjs
//
// Needs Debian's /usr/bin/chromium and web/node_modules (tools/setup).

import assert from 'node:assert/strict';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { basename, join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';

// playwright-core lives in web/node_modules, which ESM resolution from here
// would not search.
const require = createRequire(new URL('../../web/package.json', import.meta.url));
const { chromium } = require('playwright-core');

const here = fileURLToPath(new URL('.', import.meta.url));
const wasmDir = process.env.PRESENCE_WASM_DIR;
const executablePath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.mjs': 'text/javascript',
  '.wasm': 'application/wasm',
};
// Only these three files are served; anything else is a 404.
const FILES = {
  '/': join(here, 'chromium_load.html'),
  '/presence_core.mjs': join(wasmDir ?? '', 'presence_core.mjs'),
  '/presence_core.wasm': join(wasmDir ?? '', 'presence_core.wasm'),
};

let server;
let browser;
let origin;
const served = [];

before(async () => {
  assert.ok(wasmDir, 'PRESENCE_WASM_DIR is not set');
  for (const file of Object.values(FILES)) await stat(file);
  server = createServer((req, res) => {
    const path = new URL(req.url, 'http://x').pathname;
    const file = FILES[path];
    if (!file) {
      res.writeHead(404).end();
      return;
    }
    const type = TYPES[file.slice(file.lastIndexOf('.'))];
    served.push([basename(file), type]);
    res.writeHead(200, { 'content-type': type, 'cache-control': 'no-store' });
    createReadStream(file).pipe(res);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${server.address().port}`;
  browser = await chromium.launch({
    executablePath,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});

after(async () => {
  await browser?.close();
  await new Promise((resolve) => (server ? server.close(resolve) : resolve()));
});

test('chromium => import presence_core.mjs => client session runs in the page', async () => {
  const page = await browser.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') problems.push(`${m.type()}: ${m.text()}`);
  });
  await page.goto(`${origin}/`);
  await page.waitForFunction(() => window.presenceResult !== undefined, null, { timeout: 20_000 });
  const result = await page.evaluate(() => window.presenceResult);

  assert.equal(result.ok, true, result.error);
  assert.deepEqual(result.steps, [['action', 'open'], ['welcome', '']]);
  assert.deepEqual(result.auth, { type: 'auth', token: 'token-1', device: 'desktop', status: 'online' });
  assert.deepEqual(result.subscribe, { type: 'presence_subscribe', userIds: ['bob'] });
  assert.deepEqual(result.changes, {
    changed: [{ userId: 'bob', status: 'away', device: 'mobile' }], removed: [],
  });
  assert.notEqual(result.garbage, '');
  assert.equal(result.state, 'connected');
  assert.equal(result.lastSeen, '3m ago');
  assert.ok(result.reconnectIn >= 0 && result.reconnectIn <= 500, `reconnect in ${result.reconnectIn}`);

  // Served with the right types, so the wasm compiled by streaming.
  assert.deepEqual(served.map(([file, type]) => [file, type]), [
    ['chromium_load.html', TYPES['.html']],
    ['presence_core.mjs', TYPES['.mjs']],
    ['presence_core.wasm', TYPES['.wasm']],
  ]);
  assert.deepEqual(problems, []);
  await page.close();
});
