// Crash and storm: the server SIGKILLed under load, and 2 000 clients
// reconnecting at once. Figures are printed as "# fault:" lines.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';

import { connect, sleep } from '../server/harness.mjs';
import {
  freePort, loadCore, maxInWindow, realClient, report, startOnPort, summary, waitUntil,
} from './fault_harness.mjs';

const core = loadCore();

describe('SIGKILL under load, real clients (web/src + WASM core)', { skip: core ? false : 'build/wasm missing' }, () => {
  const N = Number(process.env.PRESENCE_FAULT_CLIENTS ?? 200);
  const DOWN_MS = 1500;
  let server;
  const clients = [];
  after(async () => {
    for (const c of clients) c.close();
    await server?.stop().catch(() => {});
  });

  test(`${N} clients reconnect with spread-out backoff and presence is fully restored`, async (t) => {
    const port = await freePort();
    // Real client defaults (backoff base 500 ms, cap 30 s); liveness fast
    // enough for a loaded box.
    server = await startOnPort(port, { timeoutMs: 10000, pingMs: 1000, heartbeatMs: 2000, leaveGraceMs: 1000 });
    const loaded = await core;
    const users = Array.from({ length: N }, (_, i) => `k${i}`);
    const sockets = [];  // [user, time] of every socket opened
    const connectedAt = new Map();  // user -> first time connected after the kill
    let killedAt = Infinity;
    for (const u of users) {
      const c = await realClient(loaded, server.wsUrl, u, { onSocket: (user, at) => sockets.push([user, at]) });
      // The first transition back to connected after the kill.
      let wasConnected = false;
      c.subscribe(() => {
        const now = c.connectionState === 'connected';
        if (now && !wasConnected && Date.now() >= killedAt && !connectedAt.has(u)) connectedAt.set(u, Date.now());
        wasConnected = now;
      });
      clients.push(c);
    }
    await Promise.all(clients.map((c) => c.ready));
    // Each follows the next three: a ring of N x 3 subscriptions.
    clients.forEach((c, i) => c.subscribe([1, 2, 3].map((d) => users[(i + d) % N])));
    const allOnline = () => clients.every((c, i) => [1, 2, 3].every((d) => c.getPresence(users[(i + d) % N]).status === 'online'));
    await waitUntil(allOnline, 60000, 'every client online in every view before the kill', 50);

    killedAt = Date.now();
    await server.kill9();
    const lost = await waitUntil(() => clients.every((c) => c.connectionState !== 'connected') && Date.now(), 10000, 'every client noticing the crash');
    await sleep(Math.max(0, DOWN_MS - (Date.now() - killedAt)));
    const restartAt = Date.now();
    await server.restart();  // same port, same database
    await waitUntil(() => connectedAt.size === N, 60000, `all ${N} reconnected (have ${connectedAt.size})`, 50);
    const reconnectedAt = Date.now();
    await waitUntil(allOnline, 60000, 'presence restored in every view', 50);
    const restoredAt = Date.now();

    const delays = summary([...connectedAt.values()].map((at) => at - killedAt));
    const attempts = sockets.filter(([, at]) => at >= killedAt).map(([, at]) => at);
    const afterRestart = attempts.filter((at) => at >= restartAt);
    const herd = maxInWindow(afterRestart, 100);
    report(t, `SIGKILL: ${N} real clients, crash noticed by all in ${lost - killedAt} ms, server down ${restartAt - killedAt} ms`);
    report(t, `SIGKILL: reconnect delay from the kill (ms) min ${delays.min} p10 ${delays.p10} p50 ${delays.p50} p90 ${delays.p90} max ${delays.max}`);
    report(t, `SIGKILL: ${attempts.length} socket attempts after the kill (${(attempts.length / N).toFixed(1)} per client), ${afterRestart.length} after the restart; busiest 100 ms window after the restart: ${herd} (${(100 * herd / N).toFixed(0)}% of clients)`);
    report(t, `SIGKILL: all reconnected ${reconnectedAt - restartAt} ms after the restart, every view online again after ${restoredAt - restartAt} ms`);

    // No thundering herd: full jitter spreads the reconnects, so no 100 ms
    // window holds a third of the clients (without jitter it holds all),
    // and the reconnects span more than one backoff base.
    assert.ok(herd <= Math.ceil(N / 3), `thundering herd: ${herd} of ${N} sockets in one 100 ms window`);
    assert.ok(delays.p90 - delays.p10 >= 250, `reconnects not spread: p10 ${delays.p10} p90 ${delays.p90}`);
    // Backoff, not hammering: while the server was down each client tried
    // a handful of times, not hundreds.
    const whileDown = attempts.length - afterRestart.length;
    assert.ok(whileDown <= N * 6, `${whileDown} attempts while the server was down`);
  });
});

describe('reconnect storm: 2 000 clients at once', () => {
  const N = Number(process.env.PRESENCE_STORM_CLIENTS ?? 2000);
  let server;
  let clients = [];
  after(async () => {
    for (const c of clients) c.terminate();
    await server?.stop().catch(() => {});
  });

  test(`${N} clients reconnect in the same instant after a crash; all are restored`, async (t) => {
    const port = await freePort();
    // Liveness is not under test: long pings so the storm's load cannot
    // make a live socket look dead. The rate limit is per connection.
    server = await startOnPort(port, { pingMs: 20000, timeoutMs: 120000, heartbeatMs: 60000, leaveGraceMs: 2000 });
    const users = Array.from({ length: N }, (_, i) => `st${i}`);
    const watcherUser = 'storm-watcher';

    async function connectAll(retries) {
      // Every socket opened in the same tick: the worst case a crash with
      // clients that do not back off would cause.
      return Promise.all(users.map(async (u) => {
        for (let attempt = 0; ; attempt++) {
          try {
            return await connect(server, u);
          } catch (e) {
            retries.n++;
            if (attempt >= 20) throw e;
            await sleep(50 + Math.random() * 200);
          }
        }
      }));
    }
    async function watch() {
      const w = await connect(server, watcherUser);
      for (let i = 0; i < N; i += 2500) await w.subscribe(users.slice(i, i + 2500), { timeoutMs: 30000 });
      return w;
    }
    const first = { n: 0 };
    clients = await connectAll(first);
    let watcher = await watch();
    const onlineCount = (w) => new Set(w.views().filter((v) => v.status === 'online').map((v) => v.userId)).size;
    await waitUntil(() => onlineCount(watcher) === N, 60000, 'every user online before the crash', 50);
    const rssBefore = server.rssKiB();

    await server.kill9();
    for (const c of clients) c.terminate();
    watcher.terminate();
    await server.restart();
    const pid = server.pid();

    const retries = { n: 0 };
    const t0 = Date.now();
    clients = await connectAll(retries);
    const welcomed = Date.now();
    watcher = await watch();
    await waitUntil(() => onlineCount(watcher) === N, 60000, `all ${N} online for the watcher (have ${onlineCount(watcher)})`, 50);
    const restored = Date.now();
    const welcomeTimes = summary(clients.map((c) => c.times[0] - t0));
    report(t, `storm: ${N} clients at once (server pid ${pid}), all welcomed in ${welcomed - t0} ms (welcome latency p50 ${welcomeTimes.p50} p90 ${welcomeTimes.p90} max ${welcomeTimes.max} ms), ${retries.n} refused connects retried`);
    report(t, `storm: presence fully restored (a watcher sees all ${N} online) ${restored - t0} ms after the storm began; server RSS ${rssBefore} KiB before the crash, ${server.rssKiB()} KiB after the storm`);
    assert.equal(clients.length, N);
    assert.ok(clients.every((c) => c.welcome?.type === 'welcome'));
  });
});
