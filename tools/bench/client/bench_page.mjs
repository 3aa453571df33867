// Runs in Chromium (tools/bench/client/client_bench.mjs): the WASM client
// (web/src/client.js over presence_core) against the seed's plain-JS
// BulkPresenceManager, both applying the same presence_bulk frames and then
// answering getPresence for every user. Every call into the WASM session is
// counted.
import { createPresenceClient, setCore } from '/web/src/client.js';
import { createStore } from '/web/src/store.js';
import createCore from '/wasm/presence_core.mjs';

// The seed's manager (presence-patterns.txt, Pattern 4), socket handling
// reduced to the message handler its users write.
class BulkPresenceManager {
  presenceCache = new Map();
  handleBulkUpdate(updates) {
    updates.forEach((update) => this.presenceCache.set(update.userId, update));
    window.dispatchEvent(new CustomEvent('bulk-presence-update', { detail: { updates } }));
  }
  getPresence(userId) {
    return this.presenceCache.get(userId);
  }
}

// A WebSocket stand-in: the bench plays the server.
let fake = null;
class FakeWebSocket {
  constructor() {
    fake = this;
    this.readyState = 0;
    this.sent = [];
    setTimeout(() => {
      this.readyState = 1;
      this.onopen?.();
    }, 0);
  }
  send(data) {
    this.sent.push(data);
  }
  close() {
    this.readyState = 3;
  }
}

const until = async (cond) => {
  for (let i = 0; i < 500 && !cond(); i++) await new Promise((r) => setTimeout(r, 5));
  if (!cond()) throw new Error('timed out');
};

function frame(ids, round) {
  const status = round % 2 ? 'away' : 'online';
  return JSON.stringify({
    type: 'presence_bulk',
    updates: ids.map((userId) => ({ userId, status, device: 'web' })),
  });
}

// `fresh` frames: every user offline with a last seen new to it in each of
// three frames in turn, so no View is ever one the user had just before
// (the client reuses a user's previous View object when a change goes back
// to it, as the default frames' flips always do).
function freshFrame(ids, round) {
  const lastSeen = 1733600000000 + 1000 * round;
  return JSON.stringify({
    type: 'presence_bulk',
    updates: ids.map((userId) => ({ userId, status: 'offline', lastSeen, device: 'web' })),
  });
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

window.runBench = async (sizes, fresh = false) => {
  const core = await createCore();
  // Every call into the WASM session is counted in an untimed pass of the
  // same frames (a counting wrapper around each method would add its own
  // cost to the timed frames); the timed batches run the plain methods.
  let calls = 0;
  const proto = core.ClientSession.prototype;
  const methods = Object.getOwnPropertyNames(proto)
    .filter((name) => name !== 'constructor' && typeof proto[name] === 'function')
    .map((name) => [name, proto[name]]);
  const counting = (on) => {
    for (const [name, f] of methods) {
      proto[name] = on
        ? function (...args) {
            calls++;
            return f.apply(this, args);
          }
        : f;
    }
  };
  setCore(core);
  const results = [];
  for (const n of sizes) {
    const ids = Array.from({ length: n }, (_, i) => `u${i}`);
    // Frames alternate every user's status, so each frame changes all.
    const frames = fresh ? [0, 1, 2].map((r) => freshFrame(ids, r)) : [frame(ids, 0), frame(ids, 1)];
    // Frames are timed in batches of about 2 ms (performance.now() is
    // coarsened to 0.1 ms in Chromium), WASM and seed batches alternating
    // so both see the same machine; the result is the median batch.
    const perBatch = Math.max(1, Math.ceil(2000 / n));
    const batches = n >= 10000 ? 9 : 21;

    // WASM client, one per size so no state carries over.
    fake = null;
    const client = createPresenceClient({
      url: 'ws://bench.invalid/ws', token: 't', WebSocket: FakeWebSocket, trackBrowser: false,
    });
    await until(() => fake && fake.sent.length > 0); // auth
    const ws = fake;
    if (typeof ws.onmessage !== "function") throw new Error(`socket detached; sent ${JSON.stringify(ws.sent).slice(0, 300)} state ${client.connectionState}`);
    ws.onmessage({ data: JSON.stringify({ type: 'welcome', userId: 'me', session: 's-1', heartbeatMs: 30000, serverTime: Date.now() }) });
    client.subscribe(ids);

    // The seed's plain JS.
    const manager = new BulkPresenceManager();
    const onmessage = (event) => {
      const message = JSON.parse(event.data);
      if (message.type === 'presence_bulk') manager.handleBulkUpdate(message.updates);
    };

    const callCounts = [];
    let round = 0;
    const wasmBatch = () => {
      const t0 = performance.now();
      for (let b = 0; b < perBatch; b++, round++) {
        ws.onmessage({ data: frames[round % frames.length] });
        let seen = 0;
        for (const id of ids) if (client.getPresence(id).status !== 'unknown') seen++;
        if (seen !== n) throw new Error(`wasm client shows ${seen} of ${n}`);
      }
      return (performance.now() - t0) / perBatch;
    };
    // The counting pass: the same frames and reads, one frame at a time.
    counting(true);
    for (let i = 0; i < Math.min(perBatch, 20); i++, round++) {
      const c0 = calls;
      ws.onmessage({ data: frames[round % frames.length] });
      for (const id of ids) client.getPresence(id);
      callCounts.push(calls - c0);
    }
    counting(false);
    let jsRound = 0;
    const jsBatch = () => {
      const t0 = performance.now();
      for (let b = 0; b < perBatch; b++, jsRound++) {
        onmessage({ data: frames[jsRound % frames.length] });
        let seen = 0;
        for (const id of ids) if (manager.getPresence(id)?.status) seen++;
        if (seen !== n) throw new Error(`seed shows ${seen} of ${n}`);
      }
      return (performance.now() - t0) / perBatch;
    };
    // Warm-up: both paths compiled and tiered up before timing.
    for (let i = 0; i < 3; i++) {
      wasmBatch();
      jsBatch();
    }
    const wasmTimes = [];
    const jsTimes = [];
    for (let i = 0; i < batches; i++) {
      wasmTimes.push(wasmBatch());
      jsTimes.push(jsBatch());
    }
    client.close?.();
    const wasmMs = median(wasmTimes);
    const jsMs = median(jsTimes);
    results.push({
      users: n,
      rounds: batches * perBatch,
      wasm_ms: wasmMs,
      js_ms: jsMs,
      // The fastest batch: what a frame costs when nothing else runs (the
      // median carries the machine's load).
      wasm_min_ms: Math.min(...wasmTimes),
      js_min_ms: Math.min(...jsTimes),
      calls_per_frame: median(callCounts),
      max_calls_per_frame: Math.max(...callCounts),
      // Main-thread ms per second when 10 000 user updates/s arrive in
      // frames of this size.
      wasm_ms_per_10k_updates_s: (wasmMs / n) * 10000,
      js_ms_per_10k_updates_s: (jsMs / n) * 10000,
    });
  }
  return results;
};
// Phase by phase (BENCH_CLIENT_PHASES=1, a cross-origin-isolated page so
// performance.now() is good to 5 µs): the module's session and the store as
// the client drives them (handleMessage; pollChanges; the store's apply; a
// getView per user) against the seed's JSON.parse, Map.set per update and
// Map.get per user, each phase summed over many frames. ms per frame, the
// median and the fastest of five runs.
window.runPhases = async (sizes, fresh = false) => {
  const core = await createCore();
  const out = { crossOriginIsolated: self.crossOriginIsolated };
  for (const n of sizes) {
    const ids = Array.from({ length: n }, (_, i) => `u${i}`);
    const frames = fresh ? [0, 1, 2].map((r) => freshFrame(ids, r)) : [frame(ids, 0), frame(ids, 1)];
    const s = core.ClientSession.create('{"seed":1}');
    s.start(1000);
    s.pollAction();
    s.handleSocketOpen(1000);
    s.pollTransmits();
    s.handleMessage(JSON.stringify({ type: 'welcome', userId: 'me', session: 's-1', heartbeatMs: 30000, serverTime: 1000 }), 1000);
    s.subscribe(ids, 1000);
    s.pollTransmits();
    const store = createStore('connected');
    const seed = new Map();
    const iters = Math.max(6, Math.ceil(600000 / n));
    const phases = ['handleMessage', 'pollChanges', 'apply', 'getView', 'JSON.parse', 'seed Map.set', 'seed Map.get'];
    const runs = [];
    for (let rep = 0; rep < 6; rep++) {
      const t = phases.map(() => 0);
      for (let k = 0; k < iters; k++) {
        const f = frames[k % frames.length];
        let t0 = performance.now();
        s.handleMessage(f, 1000);
        let t1 = performance.now();
        t[0] += t1 - t0;
        const c = s.pollChanges();
        t0 = performance.now();
        t[1] += t0 - t1;
        store.apply(c, 'connected', true);
        t1 = performance.now();
        t[2] += t1 - t0;
        let seen = 0;
        for (const id of ids) if (store.getView(id).status !== 'unknown') seen++;
        t0 = performance.now();
        t[3] += t0 - t1;
        const m = JSON.parse(f);
        t1 = performance.now();
        t[4] += t1 - t0;
        m.updates.forEach((u) => seed.set(u.userId, u));
        t0 = performance.now();
        t[5] += t0 - t1;
        for (const id of ids) if (seed.get(id)?.status) seen++;
        t1 = performance.now();
        t[6] += t1 - t0;
        if (seen !== 2 * n) throw new Error(`phases: saw ${seen} of ${2 * n}`);
      }
      // The first run warms up.
      if (rep > 0) runs.push(t.map((x) => x / iters));
    }
    const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
    const row = {};
    phases.forEach((p, i) => {
      row[p] = { ms: +median(runs.map((r) => r[i])).toFixed(4), min: +Math.min(...runs.map((r) => r[i])).toFixed(4) };
    });
    const sum = (from, to) => +phases.slice(from, to).reduce((a, p) => a + row[p].min, 0).toFixed(4);
    row.client_min = sum(0, 4);
    row.seed_min = sum(4, 7);
    out[n] = row;
    s.delete();
  }
  return out;
};
window.benchReady = true;
