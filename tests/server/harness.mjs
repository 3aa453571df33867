// Integration harness: the real presence-server binary on real sockets.
//
// startServer() spawns $PRESENCE_SERVER_BIN with --port 0 and a database in a
// fresh temp dir (kept across restart()), with short timings so liveness,
// grace and TTL scenarios run in well under a second. connect() opens a
// WebSocket with `ws` and keeps every text frame exactly as received (raw
// strings), so privacy tests can assert that a hidden field's name never
// appears in any byte sent to a viewer. makeToken() is an independent JWT
// signer (node:crypto), able to forge alg:none and HS512 tokens.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';

const require = createRequire(new URL('../../web/package.json', import.meta.url));
export const WebSocket = require('ws');

export const BIN = process.env.PRESENCE_SERVER_BIN;
export const SECRET = 'server-it-secret-0123456789abcdef';

// Timings that make scenarios fast but leave room for a loaded 2-core box.
export const FAST = Object.freeze({
  pingMs: 200,
  timeoutMs: 5000,
  heartbeatMs: 1000,
  leaveGraceMs: 300,
  activityTtlMs: 2000,
  flushMs: 20,
});

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
// A sleep that does not keep the process alive (for race() deadlines).
const deadline = (ms) => new Promise((r) => setTimeout(r, ms).unref());

// Every server this process started, killed if the test process exits.
const live = new Set();
const tmpDirs = [];
process.on('exit', () => {
  for (const p of live) {
    try { p.kill('SIGKILL'); } catch { /* already gone */ }
  }
  for (const d of tmpDirs) fs.rmSync(d, { recursive: true, force: true });
});

const FLAG_NAMES = {
  pingMs: '--ping-ms',
  timeoutMs: '--timeout-ms',
  heartbeatMs: '--heartbeat-ms',
  leaveGraceMs: '--leave-grace-ms',
  activityTtlMs: '--activity-ttl-ms',
  flushMs: '--flush-ms',
  ratePerSec: '--rate-per-sec',
  rateBurst: '--rate-burst',
  maxQueuedBytes: '--max-queued-bytes',
  staticDir: '--static',
  logLevel: '--log-level',
};

// opts: any FAST key, ratePerSec, rateBurst, maxQueuedBytes, staticDir,
// allowOrigin (string or array), dev (bool), secret, args (extra flags),
// db (a path; default <tmp>/presence.db).
export async function startServer(opts = {}) {
  if (!BIN) throw new Error('PRESENCE_SERVER_BIN is not set');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'presence-it-'));
  if (!process.env.PRESENCE_IT_KEEP) tmpDirs.push(dir);
  const o = { ...FAST, ...opts };
  const args = ['--host', '127.0.0.1', '--port', '0',
    '--db', o.db ?? path.join(dir, 'presence.db'),
    '--jwt-secret', o.secret ?? SECRET];
  for (const [key, flag] of Object.entries(FLAG_NAMES)) {
    if (o[key] !== undefined && o[key] !== null) args.push(flag, String(o[key]));
  }
  for (const origin of [].concat(o.allowOrigin ?? [])) args.push('--allow-origin', origin);
  if (o.dev) args.push('--dev');
  if (o.args) args.push(...o.args);

  const server = {
    dir, args, port: 0, url: '', wsUrl: '', proc: null, logs: '',
    exitCode: undefined,
    async stop(signal = 'SIGTERM', timeoutMs = 10000) {
      return stopProc(server, signal, timeoutMs);
    },
    async kill9() { return stopProc(server, 'SIGKILL', 5000); },
    async restart() {
      if (server.proc && server.exitCode === undefined) await server.stop();
      await launch(server);
      return server;
    },
    pid() { return server.proc?.pid; },
    // True for an ASan build, whose quarantine makes RSS meaningless.
    sanitized() {
      return fs.readFileSync(`/proc/${server.proc.pid}/maps`, 'utf8').includes('libasan');
    },
    // Resident set size of the server in KiB (Linux).
    rssKiB() {
      const status = fs.readFileSync(`/proc/${server.proc.pid}/status`, 'utf8');
      return Number(/VmRSS:\s+(\d+)/.exec(status)[1]);
    },
  };
  await launch(server);
  return server;
}

function cleanEnv() {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('PRESENCE_')) env[k] = v;
  }
  return env;
}

async function launch(server) {
  const proc = spawn(BIN, server.args, { env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  server.proc = proc;
  server.exitCode = undefined;
  live.add(proc);
  proc.stderr.setEncoding('utf8');
  proc.stderr.on('data', (d) => { server.logs += d; });
  const exited = new Promise((resolve) => {
    proc.on('exit', (code, signal) => {
      live.delete(proc);
      server.exitCode = code ?? signal;
      resolve(server.exitCode);
    });
  });
  server.exited = exited;
  const rl = readline.createInterface({ input: proc.stdout });
  const first = await Promise.race([
    new Promise((resolve) => rl.once('line', resolve)),
    exited.then((c) => { throw new Error(`server exited (${c}) before listening:\n${server.logs}`); }),
    deadline(10000).then(() => { throw new Error(`server did not print its first line in 10 s:\n${server.logs}`); }),
  ]);
  rl.on('line', (l) => { server.logs += `[stdout] ${l}\n`; });
  const m = /^listening on http:\/\/([^:\s]+):(\d+)\s*$/.exec(first);
  if (!m) throw new Error(`unexpected first line: ${JSON.stringify(first)}`);
  server.port = Number(m[2]);
  assert.ok(server.port > 0, 'the real port is printed for --port 0');
  server.url = `http://127.0.0.1:${server.port}`;
  server.wsUrl = `ws://127.0.0.1:${server.port}/ws`;
}

async function stopProc(server, signal, timeoutMs) {
  if (server.exitCode !== undefined) return server.exitCode;
  // PRESENCE_IT_LOGS=1: the server's log goes to stderr when it stops.
  if (process.env.PRESENCE_IT_LOGS) process.stderr.write(`--- server log (${server.args.join(' ')}):\n${server.logs}`);
  server.proc.kill(signal);
  const code = await Promise.race([server.exited, deadline(timeoutMs).then(() => 'timeout')]);
  if (code === 'timeout') {
    server.proc.kill('SIGKILL');
    await server.exited;
    throw new Error(`server did not exit within ${timeoutMs} ms of ${signal}`);
  }
  return code;
}

// ---- JWT ----

const b64url = (x) => Buffer.from(x).toString('base64url');

// makeToken(sub, {expSeconds, exp, alg, secret, claims, header}).
// alg: 'HS256' (default), 'HS512', 'none'. exp === null: no exp claim.
export function makeToken(sub, opts = {}) {
  const { expSeconds = 3600, alg = 'HS256', secret = SECRET, claims = {}, header = {} } = opts;
  const nowS = Math.floor(Date.now() / 1000);
  const payload = { sub, iat: nowS, ...claims };
  if (opts.exp !== null) payload.exp = opts.exp ?? nowS + expSeconds;
  const input = `${b64url(JSON.stringify({ alg, typ: 'JWT', ...header }))}.${b64url(JSON.stringify(payload))}`;
  let sig = '';
  if (alg === 'HS256') sig = crypto.createHmac('sha256', secret).update(input).digest('base64url');
  else if (alg === 'HS512') sig = crypto.createHmac('sha512', secret).update(input).digest('base64url');
  else if (alg !== 'none') throw new Error(`unsupported alg ${alg}`);
  return `${input}.${sig}`;
}

// ---- WebSocket clients ----

export class Client {
  constructor(ws, user) {
    this.ws = ws;
    this.user = user;
    this.raw = [];       // every text frame, as received
    this.frames = [];    // the same, parsed (null if not JSON)
    this.times = [];     // Date.now() at receipt
    this.binary = 0;     // binary frames received (none expected)
    this.welcome = null;
    this.closed = null;  // {code, reason, at}
    this.waiters = new Set();
    this.closeWaiters = [];
    ws.on('message', (data, isBinary) => {
      if (isBinary) { this.binary++; return; }
      const text = data.toString('utf8');
      let parsed = null;
      try { parsed = JSON.parse(text); } catch { /* kept as null */ }
      this.raw.push(text);
      this.frames.push(parsed);
      this.times.push(Date.now());
      for (const w of [...this.waiters]) w.check();
    });
    ws.on('close', (code, reason) => {
      this.stopKeepAlive();
      this.closed = { code, reason: reason.toString(), at: Date.now() };
      for (const w of [...this.waiters]) w.check();
      for (const r of this.closeWaiters) r(this.closed);
      this.closeWaiters = [];
    });
    ws.on('error', (e) => { this.error = e; });
  }

  // Index of the next frame to arrive: pass it as `since` to look only at
  // what comes after now.
  mark() { return this.frames.length; }

  send(obj) { this.ws.send(JSON.stringify(obj)); this.lastSent = Date.now(); }
  sendRaw(str) { this.ws.send(str); this.lastSent = Date.now(); }

  // The first frame at index >= since matching pred; rejects on timeout or
  // if the socket closes first.
  waitFor(pred, timeoutMs = 2000, since = 0, what = 'frame') {
    return new Promise((resolve, reject) => {
      const w = {
        check: () => {
          for (let i = since; i < this.frames.length; i++) {
            const f = this.frames[i];
            if (f && pred(f, i)) { cleanup(); resolve(f); return; }
          }
          if (this.closed) {
            cleanup();
            reject(new Error(`${this.user}: socket closed (${this.closed.code}) while waiting for ${what}; got ${this.describe(since)}`));
          }
        },
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`${this.user}: no ${what} within ${timeoutMs} ms; got ${this.describe(since)}`));
      }, timeoutMs);
      const cleanup = () => { clearTimeout(timer); this.waiters.delete(w); };
      this.waiters.add(w);
      w.check();
    });
  }

  waitForError(code, timeoutMs = 2000, since = 0) {
    return this.waitFor((f) => f.type === 'error' && f.code === code, timeoutMs, since, `error ${code}`);
  }

  // The first View of `userId` (at index >= since) matching pred.
  async waitForView(userId, pred = () => true, timeoutMs = 2000, since = 0) {
    const f = await this.waitFor(
      (fr) => fr.type === 'presence_bulk' && fr.updates.some((v) => v.userId === userId && pred(v)),
      timeoutMs, since, `view of ${userId}`);
    return f.updates.find((v) => v.userId === userId && pred(v));
  }

  // Every View received at index >= since, in order, with its frame index.
  views(since = 0) {
    const out = [];
    for (let i = since; i < this.frames.length; i++) {
      const f = this.frames[i];
      if (f?.type === 'presence_bulk') for (const v of f.updates) out.push({ ...v, _frame: i });
    }
    return out;
  }

  viewsOf(userId, since = 0) { return this.views(since).filter((v) => v.userId === userId); }

  // The latest View of userId received so far (undefined if none).
  latest(userId) {
    const all = this.viewsOf(userId);
    return all[all.length - 1];
  }

  // Asserts that no frame (matching pred) arrives in the next `ms`
  // (and none at index >= since already did).
  async expectNoFrame(ms, pred = () => true, since = this.mark(), what = 'frame') {
    await sleep(ms);
    for (let i = since; i < this.frames.length; i++) {
      if (this.frames[i] === null || pred(this.frames[i])) {
        assert.fail(`${this.user}: expected no ${what} for ${ms} ms, got ${this.raw[i]}`);
      }
    }
  }

  waitForClose(timeoutMs = 3000) {
    if (this.closed) return Promise.resolve(this.closed);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.user}: socket not closed within ${timeoutMs} ms; got ${this.describe(0)}`)), timeoutMs);
      this.closeWaiters.push((c) => { clearTimeout(timer); resolve(c); });
    });
  }

  // Subscribes and returns the presence_bulk that answers it (the first bulk
  // after now holding a View for every requested id).
  async subscribe(userIds, { replace, timeoutMs = 3000 } = {}) {
    const since = this.mark();
    const frame = { type: 'presence_subscribe', userIds };
    if (replace !== undefined) frame.replace = replace;
    this.send(frame);
    const want = new Set(userIds);
    return this.waitFor((f) => f.type === 'presence_bulk' && [...want].every((id) => f.updates.some((v) => v.userId === id)),
      timeoutMs, since, `presence_bulk answering subscribe(${userIds.length})`);
  }

  async close(code = 1000) {
    if (!this.closed) {
      this.closeSentAt = Date.now();
      this.ws.close(code);
      await this.waitForClose();
    }
  }

  terminate() { this.stopKeepAlive(); this.ws.terminate(); }

  // Sends a heartbeat every `ms` so the timeoutMs backstop never drops this
  // client (watchers on servers with a short --timeout-ms).
  keepAlive(ms = 400) {
    this.stopKeepAlive();
    this.keepAliveTimer = setInterval(() => {
      if (!this.closed && this.ws.readyState === WebSocket.OPEN) this.ws.send('{"type":"heartbeat"}');
    }, ms);
    return this;
  }

  stopKeepAlive() { clearInterval(this.keepAliveTimer); }

  describe(since) {
    const tail = this.raw.slice(since).slice(-6).map((s) => (s.length > 300 ? `${s.slice(0, 300)}…` : s));
    return `[${tail.join(', ')}]${this.closed ? ` closed ${this.closed.code}` : ''}`;
  }
}

// Opens a WebSocket and resolves once it is open (or rejects with the
// handshake failure: err.statusCode holds the HTTP status).
export function openSocket(server, { origin, headers, autoPong = true, path: p = '/ws', maxPayload } = {}) {
  return new Promise((resolve, reject) => {
    const opts = { autoPong, headers: headers ?? {} };
    if (origin) opts.origin = origin;
    if (maxPayload) opts.maxPayload = maxPayload;
    const ws = new WebSocket(`ws://127.0.0.1:${server.port}${p}`, opts);
    ws.once('open', () => resolve(ws));
    ws.once('unexpected-response', (req, res) => {
      const err = new Error(`handshake refused: HTTP ${res.statusCode}`);
      err.statusCode = res.statusCode;
      res.resume();
      reject(err);
      ws.terminate();
    });
    ws.once('error', reject);
  });
}

// connect(server, user, {device, session, status, token, origin, autoPong,
//   expectWelcome (default true), authExtra}) -> Client. With
// expectWelcome, waits for the welcome frame and asserts it.
export async function connect(server, user, opts = {}) {
  const { device = 'web', session, status, token, expectWelcome = true, authExtra = {} } = opts;
  const ws = await openSocket(server, opts);
  const c = new Client(ws, user);
  const auth = { type: 'auth', token: token ?? makeToken(user), device };
  if (session !== undefined) auth.session = session;
  if (status !== undefined) auth.status = status;
  Object.assign(auth, authExtra);
  c.authSentAt = Date.now();
  c.send(auth);
  if (expectWelcome) {
    c.welcome = await c.waitFor((f) => f.type === 'welcome' || f.type === 'error', 5000, 0, 'welcome');
    assert.equal(c.welcome.type, 'welcome', `${user}: auth refused: ${c.raw[0]}`);
    c.session = c.welcome.session;
  }
  return c;
}

// Connects many clients, `batch` at a time.
export async function connectMany(server, users, opts = {}, batch = 50) {
  const out = [];
  for (let i = 0; i < users.length; i += batch) {
    out.push(...await Promise.all(users.slice(i, i + batch).map((u) => connect(server, u, opts))));
  }
  return out;
}

// ---- HTTP ----

// http(server, method, path, {token, user, body, rawBody, headers}) ->
// {status, headers, text, json}. `user` makes a fresh token for that user.
export async function http(server, method, p, opts = {}) {
  const headers = { ...(opts.headers ?? {}) };
  const token = opts.token ?? (opts.user ? makeToken(opts.user) : undefined);
  if (token) headers.authorization = `Bearer ${token}`;
  let body;
  if (opts.rawBody !== undefined) body = opts.rawBody;
  else if (opts.body !== undefined) body = JSON.stringify(opts.body);
  if (body !== undefined && !headers['content-type']) headers['content-type'] = 'application/json';
  const res = await fetch(`${server.url}${p}`, { method, headers, body });
  const buf = Buffer.from(await res.arrayBuffer());
  const text = buf.toString('utf8');
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: res.status, headers: res.headers, text, buf, json };
}

// One HTTP/1.1 request written byte for byte (no URL normalisation, which
// fetch would apply to `/../`), read until the server closes.
export function rawHttp(server, requestTarget, { method = 'GET', headers = {} } = {}) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(server.port, '127.0.0.1');
    const chunks = [];
    sock.on('data', (d) => chunks.push(d));
    sock.on('error', reject);
    sock.on('close', () => {
      const text = Buffer.concat(chunks).toString('latin1');
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(text);
      const split = text.indexOf('\r\n\r\n');
      resolve({ status: m ? Number(m[1]) : 0, head: text.slice(0, split), body: text.slice(split + 4), text });
    });
    let req = `${method} ${requestTarget} HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\nConnection: close\r\n`;
    for (const [k, v] of Object.entries(headers)) req += `${k}: ${v}\r\n`;
    sock.write(`${req}\r\n`);
    setTimeout(() => sock.destroy(), 5000).unref();
  });
}

// A WebSocket opened by hand on a net.Socket: the handshake, one masked
// text frame per send(), and nothing else (it never answers pings). For
// "the network vanished" scenarios.
export function rawWebSocket(server) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(server.port, '127.0.0.1');
    const key = crypto.randomBytes(16).toString('base64');
    let buf = Buffer.alloc(0);
    let open = false;
    sock.on('error', reject);
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      if (!open) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buf.subarray(0, end).toString('latin1');
        if (!/^HTTP\/1\.1 101/.test(head)) { reject(new Error(`handshake: ${head}`)); return; }
        open = true;
        buf = buf.subarray(end + 4);
        resolve({
          socket: sock,
          received: () => buf,
          send(text) {
            const payload = Buffer.from(text);
            const mask = crypto.randomBytes(4);
            let header;
            if (payload.length < 126) header = Buffer.from([0x81, 0x80 | payload.length]);
            else if (payload.length < 65536) { header = Buffer.alloc(4); header[0] = 0x81; header[1] = 0x80 | 126; header.writeUInt16BE(payload.length, 2); }
            else { header = Buffer.alloc(10); header[0] = 0x81; header[1] = 0x80 | 127; header.writeBigUInt64BE(BigInt(payload.length), 2); }
            const masked = Buffer.alloc(payload.length);
            for (let i = 0; i < payload.length; i++) masked[i] = payload[i] ^ mask[i & 3];
            sock.write(Buffer.concat([header, mask, masked]));
          },
        });
      }
    });
    sock.write(`GET /ws HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
  });
}

// ---- assertions ----

// Field names a View may carry besides userId.
export const VIEW_FIELDS = ['status', 'lastSeen', 'device', 'activity'];

// Asserts a View has exactly the expected keys (and values where given).
export function assertView(view, expected, msg = '') {
  assert.ok(view, `${msg}: no view`);
  const keys = Object.keys(view).filter((k) => k !== '_frame').sort();
  const want = Object.keys(expected).sort();
  assert.deepEqual(keys, want, `${msg}: view ${JSON.stringify(view)} should have exactly ${want}`);
  for (const [k, v] of Object.entries(expected)) {
    if (v !== undefined && typeof v !== 'function') assert.deepEqual(view[k], v, `${msg}: ${k} in ${JSON.stringify(view)}`);
    if (typeof v === 'function') assert.ok(v(view[k]), `${msg}: ${k} in ${JSON.stringify(view)}`);
  }
}

export function assertNear(actual, expected, tolerance, msg = '') {
  assert.ok(typeof actual === 'number', `${msg}: ${actual} is not a number`);
  assert.ok(Math.abs(actual - expected) <= tolerance,
    `${msg}: ${actual} is ${actual - expected} ms from ${expected} (tolerance ${tolerance})`);
}

// Unique user ids per test so scenarios sharing a server never collide.
let seq = 0;
export function uid(prefix = 'u') {
  seq += 1;
  return `${prefix}-${process.pid}-${seq}`;
}

export async function closeAll(clients) {
  await Promise.all(clients.filter(Boolean).map((c) => c.close().catch(() => {})));
}

export async function metrics(server) {
  const res = await http(server, 'GET', '/metrics');
  assert.equal(res.status, 200);
  return res.text;
}

// The value of a Prometheus sample, e.g. metric(text, 'x_total', {code:'limit'}).
export function metricValue(text, name, labels = {}) {
  let total = 0;
  let found = false;
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || !line.startsWith(name)) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const ls = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => ls[k] === v)) { total += Number(m[3]); found = true; }
  }
  return found ? total : undefined;
}
