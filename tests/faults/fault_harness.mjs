// Fault-suite helpers on top of tests/server/harness.mjs: a server on a
// fixed port (so clients can reconnect to a restarted process), the real
// browser client (web/src + the WASM core) in Node, /proc readings, and
// small statistics. Figures are printed as "# fault: ..." lines (TAP
// diagnostics) so tools/test's log keeps them.

import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { WebSocket, makeToken, startServer } from '../server/harness.mjs';

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

export async function realClient(core, wsUrl, user, { onSocket, config = {} } = {}) {
  const { createPresenceClient } = await import(path.join(ROOT, 'web/src/index.js'));
  // Every socket the client opens, timed: the herd is measured on these.
  class CountingWebSocket extends WebSocket {
    constructor(url, ...rest) {
      super(url, ...rest);
      onSocket?.(user, Date.now());
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
