// What the scenarios share: a real presence-server per worker serving the
// bundled demo, HS256 tokens for scripted users, users seeded over REST,
// raw WebSocket frames as a page receives them, and scripted peers (plain
// `ws` sockets speaking protocol v1, for crowds a browser need not play).
import { test as base, expect } from '@playwright/test';
import { spawn } from 'node:child_process';
import { createHash, createHmac } from 'node:crypto';
import { mkdirSync, existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const root = resolve(here, '../..');
export const artifacts = resolve(here, '../artifacts');
const serverBin = process.env.PRESENCE_SERVER_BIN ?? resolve(root, 'build/native/server/presence-server');
const staticDir = process.env.PRESENCE_DEMO_DIR ?? resolve(root, 'build/demo');
// The `ws` package comes with @presence/web's own dependencies.
const WebSocket = createRequire(resolve(root, 'web/package.json'))('ws');

export const SECRET = 'e2e-secret';
// DESIGN.md's default: a reload under load must fit in it.
export const LEAVE_GRACE_MS = 5000;

export function freePort() {
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.on('error', fail);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => ok(port));
    });
  });
}

const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));

/** Starts presence-server on `port` serving the demo; resolves once it listens. */
export async function startServer(port, extra = []) {
  if (!existsSync(serverBin)) throw new Error(`no server at ${serverBin}: run tools/build native`);
  if (!existsSync(resolve(staticDir, 'app.js'))) throw new Error(`no demo in ${staticDir}: run tools/bundle`);
  const args = [
    '--host', '127.0.0.1', '--port', String(port), '--db', ':memory:', '--jwt-secret', SECRET,
    '--dev', '--static', staticDir, '--leave-grace-ms', String(LEAVE_GRACE_MS), '--log-level', 'error',
    ...extra,
  ];
  for (let attempt = 0; ; attempt++) {
    const proc = spawn(serverBin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    proc.stderr.on('data', (d) => (stderr += d));
    const line = await new Promise((ok) => {
      createInterface({ input: proc.stdout }).once('line', ok);
      proc.once('exit', () => ok(null));
    });
    if (line && line.startsWith('listening on ')) {
      proc.stdout.resume();
      const http = `http://127.0.0.1:${port}`;
      return { proc, port, http, ws: `ws://127.0.0.1:${port}/ws` };
    }
    if (attempt >= 30) throw new Error(`server did not start: ${line} ${stderr}`);
    await sleep(100); // the port may linger a moment after a kill
  }
}

export function stopServer(server, signal = 'SIGTERM') {
  return new Promise((ok) => {
    if (server.proc.exitCode !== null || server.proc.signalCode !== null) return ok();
    server.proc.once('exit', () => ok());
    server.proc.kill(signal);
  });
}

/** An HS256 token for `userId`, signed with the servers' secret. */
export function tokenFor(userId, ttlSeconds = 3600) {
  const enc = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const head = enc({ alg: 'HS256', typ: 'JWT' });
  const body = enc({ sub: userId, exp: Math.floor(Date.now() / 1000) + ttlSeconds });
  const sig = createHmac('sha256', SECRET).update(`${head}.${body}`).digest('base64url');
  return `${head}.${body}.${sig}`;
}

async function rest(server, userId, method, path, body) {
  const res = await fetch(`${server.http}${path}`, {
    method,
    headers: { Authorization: `Bearer ${tokenFor(userId)}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`${method} ${path} as ${userId}: HTTP ${res.status} ${await res.text()}`);
  return res.json();
}
export const setContacts = (server, userId, contacts) => rest(server, userId, 'PUT', '/api/contacts', { contacts });
export const setSettings = (server, userId, settings) =>
  rest(server, userId, 'PUT', '/api/settings/presence', settings);

/** Ids unique to one test, so tests sharing a server never meet. */
export function names(testInfo, ...who) {
  const hash = createHash('sha256').update(`${testInfo.testId}/${testInfo.repeatEachIndex}/${testInfo.retry}`);
  const tag = `w${testInfo.workerIndex}.${hash.digest('hex').slice(0, 8)}`;
  return Object.fromEntries(who.map((w) => [w, `${w}.${tag}`]));
}

/**
 * Records every frame the page's WebSockets receive, parsed: `frames` (all)
 * and `viewsOf(userId)` (each View of that user in a presence_bulk, in order).
 */
export function recordFrames(page) {
  const frames = [];
  page.on('websocket', (ws) => {
    ws.on('framereceived', ({ payload }) => {
      const text = typeof payload === 'string' ? payload : payload.toString('utf8');
      try {
        frames.push({ at: Date.now(), text, frame: JSON.parse(text) });
      } catch {
        frames.push({ at: Date.now(), text, frame: null });
      }
    });
  });
  return {
    frames,
    viewsOf(userId) {
      const views = [];
      for (const { frame } of frames) {
        if (frame?.type !== 'presence_bulk') continue;
        for (const view of frame.updates) if (view.userId === userId) views.push(view);
      }
      return views;
    },
    /** Every raw text that mentions `userId` (for "never leaves the server" checks). */
    textsAbout(userId) {
      return frames.filter((f) => f.text.includes(`"${userId}"`)).map((f) => f.text);
    },
  };
}

/** Opens the demo signed in as `userId`, waits until it is connected. */
export async function openDemo(context, server, userId, query = '') {
  const page = await context.newPage();
  const raw = recordFrames(page);
  if (process.env.E2E_DEBUG) {
    const t0 = Date.now();
    page.on('websocket', (ws) => ws.on('framesent', (f) => console.log(userId, Date.now() - t0, 'sent', String(f.payload).replace(/"token":"[^"]*"/, '"token":…').slice(0, 160))));
    page.on('console', (m) => console.log(userId, 'console', m.text()));
    await page.exposeFunction('__e2eLog', (e) => console.log(userId, Date.now() - t0, 'event', e));
    await page.addInitScript(() => {
      for (const t of ['focus', 'blur', 'visibilitychange', 'pagehide', 'pageshow']) window.addEventListener(t, () => window.__e2eLog(t), true);
    });
  }
  await page.goto(`${server.http}/?user=${encodeURIComponent(userId)}${query}`);
  await expect(page.locator(`[data-me="${userId}"]`)).toBeVisible();
  await expect(page.locator('.banner')).toHaveCount(0);
  return { page, raw };
}

export const contactRow = (page, userId) => page.locator(`li.contact[data-user="${userId}"]`);

/** Makes the page report itself hidden or shown, as a tab switch does. */
export async function setHidden(page, hidden) {
  await page.evaluate((h) => {
    Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => (h ? 'hidden' : 'visible') });
    Object.defineProperty(document, 'hidden', { configurable: true, get: () => h });
    document.dispatchEvent(new Event('visibilitychange'));
  }, hidden);
}

export async function fireWindow(page, type) {
  await page.evaluate((t) => window.dispatchEvent(new Event(t)), type);
}

/**
 * A scripted user on a plain socket: auth, optional status, and a promise
 * per frame type. Used for crowds; browsers play the users under test.
 */
export function scriptedUser(server, userId, { status } = {}) {
  return new Promise((ok, fail) => {
    const ws = new WebSocket(server.ws);
    ws.on('error', fail);
    ws.on('open', () => ws.send(JSON.stringify({ type: 'auth', token: tokenFor(userId), device: 'desktop', status })));
    ws.on('message', (data) => {
      const frame = JSON.parse(String(data));
      if (frame.type === 'welcome') ok(ws);
      else if (frame.type === 'error') fail(new Error(`${userId}: ${frame.code}`));
    });
  });
}

export function screenshotPath(name) {
  mkdirSync(artifacts, { recursive: true });
  return resolve(artifacts, `${name}.png`);
}

/**
 * `server`: one presence-server per worker. `browser.newContext()` is
 * wrapped so every context a test opens closes when the test ends: a page
 * left open would keep its user online into the next test.
 */
export const test = base.extend({
  browser: async ({ browser }, use) => {
    const opened = [];
    const tracked = Object.create(browser);
    tracked.newContext = async (...args) => {
      const context = await browser.newContext(...args);
      opened.push(context);
      return context;
    };
    await use(tracked);
    await Promise.all(opened.map((c) => c.close().catch(() => {})));
  },
  server: [
    async ({}, use) => {
      const server = await startServer(await freePort());
      await use(server);
      await stopServer(server);
    },
    { scope: 'worker' },
  ],
});
export { expect };
