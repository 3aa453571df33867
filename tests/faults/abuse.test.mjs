// Abuse and broken networks, single node: a client opening many sockets,
// a slow reader that never reads again, half-open TCP behind a proxy that
// silently stops forwarding. Figures are printed as "# fault:" lines.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';

import {
  closeAll, connect, metricValue, metrics, openSocket, makeToken, Client, sleep, startServer, uid,
} from '../server/harness.mjs';
import { openFds, report, waitUntil } from './fault_harness.mjs';

const socketsGauge = async (server) => metricValue(await metrics(server), 'presence_ws_sockets');

describe('many sockets from one user (--max-sockets-per-user 5)', () => {
  let server;
  // Long pings: on a loaded box a stalled test process must not get a tab
  // found dead (which would free a slot); liveness is not under test here.
  before(async () => { server = await startServer({ args: ['--max-sockets-per-user', '5'], pingMs: 5000, timeoutMs: 20000 }); });
  after(async () => { await server?.stop(); });

  test('the 6th socket of a user gets error limit + close 4429; the five stay, others are unaffected, a freed slot is reusable', async (t) => {
    const u = uid('many');
    const w = await connect(server, uid('w'));
    const tabs = [];
    try {
      for (let i = 0; i < 5; i++) tabs.push(await connect(server, u));
      await w.subscribe([u]);
      const m = w.mark();
      const refusedBefore = metricValue(await metrics(server), 'presence_socket_cap_refusals_total') ?? 0;
      // The 6th .. 25th: a client opening sockets in a loop.
      const extra = [];
      for (let i = 0; i < 20; i++) extra.push(await connect(server, u, { expectWelcome: false }));
      const closes = await Promise.all(extra.map((c) => c.waitForClose(3000)));
      assert.ok(closes.every((c) => c.code === 4429), `close codes: ${[...new Set(closes.map((c) => c.code))]}`);
      assert.ok(extra.every((c) => c.frames.length === 1 && c.frames[0].type === 'error' && c.frames[0].code === 'limit'),
        `each refused socket got exactly one limit error: ${extra[0].describe(0)}`);
      const refused = metricValue(await metrics(server), 'presence_socket_cap_refusals_total') - refusedBefore;
      assert.equal(refused, 20);
      // No session was made for them: the watcher saw nothing at all.
      await w.expectNoFrame(300, () => true, m, 'frame about the refused sockets');
      // The five still work.
      for (const c of tabs) assert.equal(c.closed, null);
      tabs[0].send({ type: 'presence', status: 'away' });
      tabs[1].close();
      await tabs[1].waitForClose();
      // A freed slot can be used again (the count follows closes).
      tabs[1] = await connect(server, u);
      // Another user is not limited by this one.
      const other = await connect(server, uid('other'));
      await other.close();
      // The 5 tabs + the watcher: the refused sockets are released.
      await waitUntil(async () => (await socketsGauge(server)) === 6, 3000, 'presence_ws_sockets back to 6');
      report(t, `socket cap: 20 sockets over a cap of 5 refused with 4429 + limit, ${refused} counted in presence_socket_cap_refusals_total`);
    } finally { await closeAll([w, ...tabs]); }
  });

  test('the cap counts authenticated sockets only: unauthenticated ones do not lock a user out', async () => {
    const u = uid('unauth');
    const idle = [];
    try {
      for (let i = 0; i < 8; i++) idle.push(new Client(await openSocket(server), u));
      const c = await connect(server, u);
      assert.equal(c.welcome.type, 'welcome');
      await c.close();
    } finally { for (const c of idle) c.terminate(); }
  });
});

describe('slow reader that never reads again', () => {
  let server;
  before(async () => {
    server = await startServer({ maxQueuedBytes: 262144, ratePerSec: 100000, rateBurst: 100000, pingMs: 10000, timeoutMs: 30000, leaveGraceMs: 300 });
  });
  after(async () => { await server?.stop(); });

  // limits.test.mjs covers the close (1008) of a paused reader that reads
  // again at the end. Here it never does: the close frame itself cannot be
  // written, so the server must drop the TCP connection on its own, free
  // the fd, and show the user offline to others.
  test('its socket and fd are released within the close deadline and its user goes offline for others', async (t) => {
    const slowUser = uid('slow');
    const slow = await connect(server, slowUser);
    const w = await connect(server, uid('w'));
    try {
      await w.subscribe([slowUser]);
      const m = w.mark();
      await metrics(server);  // fetch's keep-alive socket exists from here on
      const fdsBefore = openFds(server.pid());
      slow.ws._socket.pause();
      const p = uid('x');
      const ids = Array.from({ length: 2500 }, (_, i) => `${p}-${String(i).padStart(5, '0')}`);
      const frame = JSON.stringify({ type: 'presence_subscribe', userIds: ids, replace: true });
      const start = Date.now();
      for (let i = 0; i < 300; i++) {
        slow.sendRaw(frame);
        if (i % 50 === 49) await sleep(20);
      }
      const offline = await w.waitForView(slowUser, (v) => v.status === 'offline', 15000, m);
      const offlineAt = Date.now();
      assert.equal(offline.status, 'offline');
      const releasedAt = await waitUntil(async () => (await socketsGauge(server)) === 1 && Date.now(), 15000, 'the slow socket released');
      const fdsAfter = openFds(server.pid());
      report(t, `slow reader (never reads): offline for others ${offlineAt - start} ms after the flood began, socket released after ${releasedAt - start} ms, server fds ${fdsBefore} -> ${fdsAfter}`);
      assert.ok(fdsAfter < fdsBefore, `the server still holds the slow socket's fd (${fdsBefore} -> ${fdsAfter})`);
      assert.equal(w.closed, null);
    } finally { slow.terminate(); await closeAll([w]); }
  });
});

// A loopback TCP proxy that can go silent: it keeps both connections open
// but forwards nothing more in either direction (no FIN, no RST), as a
// dead NAT or a pulled cable does.
function silentProxy(targetPort) {
  const pairs = [];
  let frozen = false;
  const srv = net.createServer((down) => {
    const up = net.connect(targetPort, '127.0.0.1');
    pairs.push({ down, up });
    down.on('data', (d) => { if (!frozen) up.write(d); });
    up.on('data', (d) => { if (!frozen) down.write(d); });
    const end = () => { if (!frozen) { down.destroy(); up.destroy(); } };
    down.on('close', end);
    up.on('close', end);
    down.on('error', () => {});
    up.on('error', () => {});
  });
  return new Promise((resolve) => srv.listen(0, '127.0.0.1', () => resolve({
    port: srv.address().port,
    freeze() { frozen = true; },
    upstreamClosed: () => pairs.every((p) => p.up.destroyed || p.up.readableEnded),
    close() { for (const p of pairs) { p.down.destroy(); p.up.destroy(); } srv.close(); },
  })));
}

describe('half-open TCP (a proxy that silently stops forwarding)', () => {
  const PING = 500;
  let server;
  before(async () => { server = await startServer({ pingMs: PING, timeoutMs: 20000, heartbeatMs: 1000, flushMs: 20 }); });
  after(async () => { await server?.stop(); });

  test('the server finds the connection dead by its pings, shows the user offline, and frees the socket', async (t) => {
    const proxy = await silentProxy(server.port);
    const user = uid('halfopen');
    const w = await connect(server, uid('w'));
    let c;
    try {
      c = await connect({ port: proxy.port }, user);
      c.keepAlive(200);  // app heartbeats: only the ping layer can notice
      await w.subscribe([user]);
      const m = w.mark();
      await sleep(3 * PING);  // pings answered through the proxy meanwhile
      assert.equal(w.viewsOf(user, m).length, 0, 'no flap while the proxy forwards');
      const fds = openFds(server.pid());
      const frozenAt = Date.now();
      proxy.freeze();
      const v = await w.waitForView(user, (x) => x.status === 'offline', 10000, m);
      const detected = Date.now() - frozenAt;
      const releasedAt = await waitUntil(() => proxy.upstreamClosed() && Date.now(), 15000, 'the server closing its side');
      const fdsAfter = openFds(server.pid());
      report(t, `half-open: offline for others ${detected} ms after the network went silent (pingMs ${PING}, so 2 x pingMs = ${2 * PING}; timeoutMs 20000), server dropped the TCP connection after ${releasedAt - frozenAt} ms, fds ${fds} -> ${fdsAfter}`);
      assert.equal(v.status, 'offline');
      assert.ok(detected < 20000 / 2, `detected by pings, not by the ${20000} ms app timeout: ${detected} ms`);
      // Heard at most ~200 ms before the freeze (heartbeats), dead 2 x pingMs
      // after that: not sooner than one pingMs.
      assert.ok(detected >= PING, `offline after ${detected} ms: too soon for the ping layer`);
      assert.equal(c.closed, null, 'the client saw nothing: the network is silent, not closed');
    } finally {
      c?.terminate();
      proxy.close();
      await closeAll([w]);
    }
  });
});
