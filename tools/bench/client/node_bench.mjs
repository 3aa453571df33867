// The quick loop for the bulk path, in Node: the module's session (handle a
// presence_bulk, poll the changes) against the seed's JSON.parse + Map.set,
// same frames, median ms per frame. Prints one JSON line per size. Each
// batch is also timed in process CPU time (process.cpuUsage: user + system),
// which other load on a shared machine disturbs much less than wall time:
// *_cpu_ms is the median batch's CPU ms per frame.
//   node tools/bench/client/node_bench.mjs [build/wasm/wasm]
import { performance } from 'node:perf_hooks';
import loadPresenceCore from '../../../wasm/presence_core_node.mjs';

const core = await loadPresenceCore(process.argv[2] ?? 'build/wasm/wasm');
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const frame = (ids, round) => JSON.stringify({
  type: 'presence_bulk',
  updates: ids.map((userId) => ({ userId, status: round % 2 ? 'away' : 'online', device: 'web' })),
});

for (const n of [10, 1000, 10000]) {
  const ids = Array.from({ length: n }, (_, i) => `u${i}`);
  const frames = [frame(ids, 0), frame(ids, 1)];
  const s = core.ClientSession.create('{"seed":1}');
  let now = 1000;
  s.start(now);
  s.pollAction();
  s.handleSocketOpen(now);
  s.pollTransmits();
  s.handleMessage(JSON.stringify({ type: 'welcome', userId: 'me', session: 's-1', heartbeatMs: 30000, serverTime: now }), now);
  if (!s.subscribe(ids, now)) throw new Error("subscribe");
  s.pollTransmits();
  const cache = new Map();
  const perBatch = Math.max(1, Math.ceil(20000 / n));
  let round = 0;
  let jsRound = 0;
  const cpu = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  };
  const wasm = () => {
    const c0 = cpu();
    const t0 = performance.now();
    for (let b = 0; b < perBatch; b++, round++) {
      const err = s.handleMessage(frames[round % 2], now);
      if (err !== '') throw new Error(err);
      const c = s.pollChanges();
      if (c.changed.length !== n) throw new Error(`changed ${c.changed.length}`);
    }
    return [(performance.now() - t0) / perBatch, (cpu() - c0) / perBatch];
  };
  const js = () => {
    const c0 = cpu();
    const t0 = performance.now();
    for (let b = 0; b < perBatch; b++, jsRound++) {
      const m = JSON.parse(frames[jsRound % 2]);
      if (m.type === 'presence_bulk') for (const u of m.updates) cache.set(u.userId, u);
    }
    return [(performance.now() - t0) / perBatch, (cpu() - c0) / perBatch];
  };
  for (let i = 0; i < 5; i++) { wasm(); js(); }
  const wt = [], jt = [];
  for (let i = 0; i < 15; i++) { wt.push(wasm()); jt.push(js()); }
  const f = (xs, i) => +median(xs.map((x) => x[i])).toFixed(4);
  console.log(JSON.stringify({ users: n, wasm_ms: f(wt, 0), js_ms: f(jt, 0), wasm_cpu_ms: f(wt, 1), js_cpu_ms: f(jt, 1) }));
  s.delete();
}
