// Fault-suite helpers on top of tests/server/harness.mjs: a server on a
// fixed port (so clients can reconnect to a restarted process), the real
// browser client (web/src + the WASM core) in Node, /proc readings, and
// small statistics. Figures are printed as "# fault: ..." lines (TAP
// diagnostics) so tools/test's log keeps them.

import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import {
  Client, WebSocket, http, makeToken, openSocket, sleep, startServer,
} from '../server/harness.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
export const ROOT = path.resolve(here, '../..');

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

// startServer on a fixed port (the harness passes --port 0 first; the last
// flag wins). Retries while the port is still held by a killed process.
export async function startOnPort(port, opts = {}) {
  const args = ['--port', String(port), ...(opts.args ?? [])];
  for (let attempt = 0; ; attempt++) {
    try {
      return await startServer({ ...opts, args });
    } catch (e) {
      if (attempt >= 30) throw e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

// The real client: web/src/client.js driving the WASM ClientSession.
let corePromise;
export function loadCore() {
  const dir = process.env.PRESENCE_WASM_DIR ?? path.join(ROOT, 'build/wasm/wasm');
  if (!fs.existsSync(path.join(dir, 'presence_core.wasm'))) return null;
  corePromise ??= import(path.join(ROOT, 'wasm/presence_core_node.mjs')).then((m) => m.default(dir));
  return corePromise;
}

// `pickUrl()`, if given, chooses the URL of every socket the client opens
// (a load balancer in front of a cluster); else every socket goes to wsUrl.
export async function realClient(core, wsUrl, user, { onSocket, config = {}, pickUrl } = {}) {
  const { createPresenceClient } = await import(path.join(ROOT, 'web/src/index.js'));
  // Every socket the client opens, timed: the herd is measured on these.
  class CountingWebSocket extends WebSocket {
    constructor(url, ...rest) {
      const target = pickUrl ? pickUrl() : url;
      super(target, ...rest);
      onSocket?.(user, Date.now(), target);
    }
  }
  return createPresenceClient({
    url: wsUrl,
    getToken: async () => makeToken(user),
    core,
    WebSocket: CountingWebSocket,
    trackBrowser: false,
    sessionStorage: null,
    device: 'web',
    config,
  });
}

// ---- /proc ----

export function procStatus(pid) {
  const text = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return { rssKiB: Number(/VmRSS:\s+(\d+)/.exec(text)[1]) };
}

export function openFds(pid) {
  return fs.readdirSync(`/proc/${pid}/fd`).length;
}

// ---- numbers ----

export function quantile(sorted, q) {
  if (!sorted.length) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.round(q * (sorted.length - 1))));
  return sorted[i];
}

export function summary(values) {
  const s = [...values].sort((a, b) => a - b);
  return { n: s.length, min: s[0], p10: quantile(s, 0.1), p50: quantile(s, 0.5), p90: quantile(s, 0.9), max: s[s.length - 1] };
}

// The most events in any window of `ms` (sliding over the sorted times).
export function maxInWindow(times, ms) {
  const s = [...times].sort((a, b) => a - b);
  let best = 0;
  for (let i = 0, j = 0; j < s.length; j++) {
    while (s[j] - s[i] >= ms) i++;
    best = Math.max(best, j - i + 1);
  }
  return best;
}

export function report(t, line) {
  t.diagnostic(`fault: ${line}`);
}

export async function waitUntil(pred, timeoutMs, what, stepMs = 20) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await pred();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
}

// ---- churn (the soaks, single node and cluster) ----

// `durationMs` of churn around `targetLive` sockets of `users`: connects
// (30 % resuming the user's last session, wherever it lives), clean
// closes, abrupt drops, peers that vanish without a FIN, status and
// activity frames, subscribe/unsubscribe, settings and contacts over HTTP.
// `pickServer()` chooses the server of each connect and HTTP write (one
// server, or any node of a cluster: a resume may land on another node).
// `sample(at, liveCount)` is called SAMPLES times through the run. At the
// end every socket is dropped or closed. Returns the counts.
export async function churn({ pickServer, users, durationMs, targetLive, sample, samples = 10 }) {
  const pick = (a) => a[Math.floor(Math.random() * a.length)];
  const live = new Set();
  const sessions = new Map();  // user -> last session id (for resumes)
  const counts = { connects: 0, resumed: 0, closes: 0, drops: 0, vanished: 0, frames: 0, http: 0, errors: 0 };
  // Every client ever made, so none can outlive the run unseen (a connect
  // that times out under load must still be closed at the end).
  const every = new Set();
  async function open() {
    const u = pick(users);
    const resume = Math.random() < 0.3 ? sessions.get(u) : undefined;
    try {
      const c = new Client(await openSocket(pickServer()), u);
      every.add(c);
      const auth = { type: 'auth', token: makeToken(u), device: pick(['web', 'mobile', 'desktop']) };
      if (resume) auth.session = resume;
      c.send(auth);
      const welcome = await c.waitFor((f) => f.type === 'welcome', 10000, 0, 'welcome');
      c.session = welcome.session;
      if (resume && welcome.session === resume) counts.resumed++;
      sessions.set(u, c.session);
      c.keepAlive(700);
      live.add(c);
      counts.connects++;
      c.subscribe(Array.from({ length: 5 }, () => pick(users))).catch(() => {});
    } catch { counts.errors++; }
  }
  function act(c) {
    const r = Math.random();
    counts.frames++;
    if (r < 0.3) c.send({ type: 'presence', status: pick(['online', 'away', 'online', 'offline']) });
    else if (r < 0.6) c.send({ type: 'activity', activity: pick([{ type: 'typing', conversationId: 'c1' }, { type: 'viewing', page: '/x' }, { type: 'idle' }]) });
    else if (r < 0.8) c.send({ type: 'presence_subscribe', userIds: [pick(users), pick(users)], replace: Math.random() < 0.2 });
    else c.send({ type: 'presence_unsubscribe', userIds: [pick(users)] });
  }
  async function settle(c, how) {
    live.delete(c);
    c.stopKeepAlive();
    if (how === 'drop') { c.terminate(); counts.drops++; }
    else if (how === 'vanish') {
      // No FIN, no pong, no frame: the server's pings must find it.
      c.ws._socket.pause();
      counts.vanished++;
    } else { await c.close().catch(() => {}); counts.closes++; }
  }
  async function httpChurn() {
    const u = pick(users);
    const token = makeToken(u);
    counts.http++;
    if (Math.random() < 0.5) {
      await http(pickServer(), 'PUT', '/api/settings/presence', { token, body: { showOnlineStatus: pick(['everyone', 'contacts', 'nobody']), showActivity: pick(['everyone', 'contacts', 'nobody']) } });
    } else {
      await http(pickServer(), 'PUT', '/api/contacts', { token, body: { contacts: [pick(users), pick(users)] } });
    }
  }

  const start = Date.now();
  let nextSample = start;
  while (Date.now() - start < durationMs) {
    const ops = [];
    // Top up towards a load that wanders around targetLive, at most 40 new
    // sockets a tick.
    const want = Math.min(40, Math.round(targetLive * (0.7 + 0.6 * Math.random())) - live.size);
    for (let i = 0; i < want; i++) ops.push(open());
    for (const c of [...live]) {
      const r = Math.random();
      if (c.closed) { live.delete(c); continue; }
      if (r < 0.03) ops.push(settle(c, 'close'));
      else if (r < 0.045) ops.push(settle(c, 'drop'));
      else if (r < 0.05) ops.push(settle(c, 'vanish'));
      else if (r < 0.25) act(c);
    }
    if (Math.random() < 0.5) ops.push(httpChurn().catch(() => { counts.errors++; }));
    await Promise.all(ops);
    // Rate limit: ~10 frames/s per socket at most, far under 20/s.
    await sleep(100);
    if (Date.now() >= nextSample) {
      sample?.(Date.now() - start, live.size);
      nextSample += durationMs / samples;
    }
  }
  const liveAtEnd = live.size;
  await sample?.('end', liveAtEnd);
  await Promise.all([...live].map((c) => settle(c, Math.random() < 0.5 ? 'drop' : 'close')));
  for (const c of every) if (!c.closed) c.terminate();
  return { counts, liveAtEnd };
}
