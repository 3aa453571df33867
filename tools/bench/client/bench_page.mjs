// Runs in Chromium (tools/bench/client/client_bench.mjs): the WASM client
// (web/src/client.js over presence_core) against the seed's plain-JS
// BulkPresenceManager, both applying the same presence_bulk frames and then
// answering getPresence for every user. Every call into the WASM session is
// counted.
import { createPresenceClient, setCore } from '/web/src/client.js';
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
window.benchReady = true;
