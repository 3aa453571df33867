// Cluster mode with real processes: one redis-server on a free port and
// three (for a while four) presence-server nodes started with --redis, and
// `ws` clients spread across them. No mocks: what one node's client does
// must reach another node's client through Redis, with privacy and the
// projection diff checked on raw frames; a SIGKILLed node's users must go
// offline everywhere within timeoutMs; a Redis outage must show (healthz,
// metrics, an `unavailable` frame) and heal by itself.
//
// Figures (dead-node detection, recovery after a Redis restart, cross-node
// latency) are printed as test diagnostics ("# ..." lines).

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import {
  assertView, closeAll, connect, http, metricValue, metrics, sleep, startServer, uid, VIEW_FIELDS,
} from './harness.mjs';

const TIMEOUT = 2000;  // --timeout-ms: also a dead node's TTL
const PING = 200;
const FLUSH = 20;
const GRACE = 1000;  // --leave-grace-ms: room for a reconnect under ASan
const SLACK = 1000;  // scheduling on a shared 2-core box
const NODE_OPTS = { timeoutMs: TIMEOUT, pingMs: PING, flushMs: FLUSH, leaveGraceMs: GRACE, heartbeatMs: 1000 };

const REDIS_BIN = process.env.REDIS_SERVER_BIN ?? 'redis-server';

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

// redis-server on 127.0.0.1:port with an AOF fsynced on every write in a
// temp dir: a SIGKILL loses nothing, as an operator's `appendfsync
// everysec` loses at most a second.
async function startRedis() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'presence-redis-'));
  const port = await freePort();
  const redis = {
    port, dir, proc: null, logs: '',
    url: `redis://127.0.0.1:${port}`,
    async start() {
      const proc = spawn(REDIS_BIN, ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir,
        '--save', '', '--appendonly', 'yes', '--appendfsync', 'always', '--protected-mode', 'no'],
      { stdio: ['ignore', 'pipe', 'pipe'] });
      redis.proc = proc;
      proc.stdout.on('data', (d) => { redis.logs += d; });
      proc.stderr.on('data', (d) => { redis.logs += d; });
      redis.exited = new Promise((r) => proc.on('exit', r));
      const until = Date.now() + 10000;
      while (Date.now() < until) {
        if (await canConnect(port)) return;
        if (proc.exitCode !== null) break;
        await sleep(20);
      }
      throw new Error(`redis-server did not start:\n${redis.logs}`);
    },
    async kill9() {
      if (!redis.proc || redis.proc.exitCode !== null) return;
      redis.proc.kill('SIGKILL');
      await redis.exited;
    },
  };
  process.on('exit', () => {
    try { redis.proc?.kill('SIGKILL'); } catch { /* gone */ }
    fs.rmSync(dir, { recursive: true, force: true });
  });
  await redis.start();
  return redis;
}

function canConnect(port) {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}

async function healthz(node) {
  try {
    const res = await http(node, 'GET', '/healthz');
    return res;
  } catch (e) {
    return { status: 0, json: undefined, error: e };
  }
}

// Resolves with the time at which every node answers /healthz with `want`.
async function waitHealth(nodes, want, timeoutMs = 10000) {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const codes = await Promise.all(nodes.map(async (n) => (await healthz(n)).status));
    if (codes.every((c) => c === want)) return Date.now();
    if (Date.now() > until) throw new Error(`/healthz ${codes} after ${timeoutMs} ms, want ${want}`);
    await sleep(25);
  }
}

function startNode(redis, extra = {}) {
  return startServer({ ...NODE_OPTS, dev: true, args: ['--redis', redis.url], ...extra });
}

async function putJson(node, user, p, body) {
  const res = await http(node, 'PUT', p, { user, body });
  assert.equal(res.status, 200, `${p} on :${node.port}: ${res.text}`);
  return res.json;
}

// Every raw frame a client got at index >= since that mentions `user`.
function framesAbout(client, user, since = 0) {
  return client.raw.slice(since).filter((r) => r.includes(`"${user}"`));
}

// Runs `fn`; if it fails, the nodes' logs go to stderr (the ctest log)
// so a failure on a loaded machine can be read afterwards.
async function withLogs(nodes, fn) {
  try {
    return await fn();
  } catch (e) {
    for (const n of nodes) process.stderr.write(`--- node :${n.port} log:\n${n.logs}\n`);
    throw e;
  }
}

const online = (v) => v.status === 'online';
const offline = (v) => v.status === 'offline';

describe('cluster: three nodes on one Redis', () => {
  let redis;
  let A;
  let B;
  let C;
  const clients = [];
  const keep = (c) => { clients.push(c.keepAlive()); return c; };

  before(async () => {
    redis = await startRedis();
    [A, B, C] = await Promise.all([startNode(redis), startNode(redis), startNode(redis)]);
    await waitHealth([A, B, C], 200);
  });
  after(async () => {
    await closeAll(clients);
    await Promise.all([A, B, C].filter(Boolean).map((n) => n.stop().catch(() => {})));
    await redis?.kill9();
  });

  test('without Redis the nodes still start, report 503 and presence_redis_up 0', async () => {
    const port = await freePort();  // nothing listens there
    const lone = await startServer({ ...NODE_OPTS, args: ['--redis', `redis://127.0.0.1:${port}`] });
    try {
      const res = await healthz(lone);
      assert.equal(res.status, 503);
      assert.deepEqual({ ...res.json, node: undefined }, { status: 'unavailable', redis: 'down', node: undefined });
      assert.equal(metricValue(await metrics(lone), 'presence_redis_up'), 0);
      const c = await connect(lone, uid('early'));
      await c.waitForError('unavailable', 2000);
      const put = await http(lone, 'PUT', '/api/settings/presence', { user: uid('p'), body: { showLastSeen: 'nobody' } });
      assert.equal(put.status, 503, put.text);
      await c.close();
    } finally {
      await lone.stop();
    }
  });

  test('a bad --redis URL is refused at startup (exit 2) with a clear message', () => {
    const r = spawnSync(process.env.PRESENCE_SERVER_BIN, ['--redis', 'http://127.0.0.1:1', '--dev'], { encoding: 'utf8' });
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /--redis: not a redis:\/\/ URL/);
  });

  test('a user on node A sees a user on node B come online, go away, type and go offline', async (t) => {
    const target = uid('bob');
    const watcher = uid('alice');
    // Contacts set through node C: the change reaches every node's hub.
    await putJson(C, target, '/api/contacts', { contacts: [watcher] });
    const w = keep(await connect(A, watcher));
    assertView((await w.subscribe([target])).updates[0], { userId: target });

    let m = w.mark();
    const b = await connect(B, target, { device: 'desktop' });
    clients.push(b.keepAlive());
    const on = await w.waitForView(target, online, 3000, m);
    assertView(on, { userId: target, status: 'online', device: 'desktop' }, 'online');
    const latencies = [w.times[w.frames.length - 1] - b.authSentAt];

    m = w.mark();
    b.send({ type: 'presence', status: 'away' });
    let sent = b.lastSent;
    assertView(await w.waitForView(target, (v) => v.status === 'away', 3000, m),
      { userId: target, status: 'away', device: 'desktop' }, 'away');
    latencies.push(w.times[w.frames.length - 1] - sent);

    m = w.mark();
    b.send({ type: 'activity', activity: { type: 'typing', conversationId: 'c-42' } });
    sent = b.lastSent;
    assertView(await w.waitForView(target, (v) => v.activity !== undefined, 3000, m),
      { userId: target, status: 'away', device: 'desktop', activity: { type: 'typing', conversationId: 'c-42' } }, 'typing');
    latencies.push(w.times[w.frames.length - 1] - sent);

    m = w.mark();
    const closedAt = Date.now();
    await b.close();
    const off = await w.waitForView(target, offline, 3000, m);
    assertView(off, { userId: target, status: 'offline', lastSeen: (x) => Math.abs(x - closedAt) < 500 }, 'offline');
    t.diagnostic(`cross-node delivery latency (send on B -> frame on A), ms: ${latencies.join(', ')}`);
    for (const l of latencies) assert.ok(l < 1000, `cross-node latency ${l} ms`);
  });

  test('privacy and projection diff hold across nodes, on raw frames', async () => {
    const target = uid('priv');
    const contact = uid('contact');
    const stranger = uid('stranger');
    await putJson(A, target, '/api/settings/presence',
      { showOnlineStatus: 'contacts', showLastSeen: 'nobody', showActivity: 'contacts' });
    await putJson(B, target, '/api/contacts', { contacts: [contact] });

    const c = keep(await connect(A, contact));
    const s = keep(await connect(C, stranger));
    await c.subscribe([target]);
    const first = await s.subscribe([target]);
    assert.equal(first.updates.find((v) => v.userId === target) !== undefined, true);
    assertView(first.updates[0], { userId: target }, 'stranger sees nothing');
    const sMark = s.mark();
    const cMark = c.mark();

    const t = await connect(B, target, { device: 'mobile' });
    t.keepAlive();
    await c.waitForView(target, online, 3000, cMark);
    t.send({ type: 'presence', status: 'away' });
    await c.waitForView(target, (v) => v.status === 'away', 3000, cMark);
    t.send({ type: 'activity', activity: { type: 'busy', reason: 'in a meeting' } });
    await c.waitForView(target, (v) => v.activity?.type === 'busy', 3000, cMark);
    await t.close();
    await c.waitForView(target, offline, 3000, cMark);
    await sleep(200);

    // The contact saw status and activity, never last seen (nobody).
    for (const raw of framesAbout(c, target, cMark)) {
      assert.ok(!raw.includes('lastSeen'), `hidden lastSeen reached a contact: ${raw}`);
    }
    assertView(c.latest(target), { userId: target, status: 'offline' }, 'contact after offline');
    // The stranger on a third node got no frame at all: its projection
    // never changed, so not even the timing of frames leaks.
    assert.deepEqual(s.raw.slice(sMark), [], 'stranger got frames');

    // A settings change on one node reaches viewers on every node at once.
    const t2 = keep(await connect(B, target));
    await c.waitForView(target, online, 3000, cMark);
    const m = s.mark();
    await putJson(A, target, '/api/settings/presence', { showOnlineStatus: 'everyone', showActivity: 'everyone' });
    assertView(await s.waitForView(target, online, 3000, m), { userId: target, status: 'online', device: 'web' }, 'after settings');
    await t2.close();
  });

  test('subscriptions reach users on any node, including those already online', async () => {
    const users = [uid('onA'), uid('onB'), uid('onC')];
    const conns = [
      keep(await connect(A, users[0], { device: 'web' })),
      keep(await connect(B, users[1], { device: 'mobile' })),
      keep(await connect(C, users[2], { device: 'desktop', status: 'away' })),
    ];
    await sleep(300);  // their shares travel before anyone subscribes
    const w = keep(await connect(B, uid('lister')));
    const bulk = await w.subscribe(users);
    const byId = Object.fromEntries(bulk.updates.map((v) => [v.userId, v]));
    assertView(byId[users[0]], { userId: users[0], status: 'online', device: 'web' }, 'A');
    assertView(byId[users[1]], { userId: users[1], status: 'online', device: 'mobile' }, 'B');
    assertView(byId[users[2]], { userId: users[2], status: 'away', device: 'desktop' }, 'C');

    // The same user on two nodes: online if any session is online.
    const m = w.mark();
    const second = keep(await connect(A, users[2], { device: 'web' }));
    assertView(await w.waitForView(users[2], online, 3000, m), { userId: users[2], status: 'online', device: 'web' }, 'best session');
    await second.close();
    assertView(await w.waitForView(users[2], (v) => v.status === 'away', 3000, m),
      { userId: users[2], status: 'away', device: 'desktop' }, 'back to the other node');
    await closeAll(conns);
  });

  test('a client moved from node A to node B keeps its session; the old socket is closed 4409', async () => {
    const user = uid('mover');
    const w = keep(await connect(C, uid('observer')));
    await w.subscribe([user]);
    const old = keep(await connect(A, user));
    await w.waitForView(user, online, 3000);
    await sleep(200);
    const m = w.mark();

    const moved = keep(await connect(B, user, { session: old.session }));
    assert.equal(moved.session, old.session, 'resumed with the same session id');
    const closed = await old.waitForClose(3000);
    assert.equal(closed.code, 4409);

    // A reload that lands on a third node: clean close, resume within grace.
    await moved.close();
    const again = keep(await connect(C, user, { session: old.session }));
    assert.equal(again.session, old.session);
    await sleep(GRACE + 500);
    assert.deepEqual(w.viewsOf(user, m).filter((v) => v.status !== 'online'), [], 'the move never showed offline');
    const a = await metrics(A);
    assert.equal(metricValue(a, 'presence_cluster_sessions_moved_total'), 1);
    await again.close();
  });

  test('SIGKILL of a node: its users go offline everywhere within timeoutMs, and come back on another node', async (t) => {
    const D = await startNode(redis);
    try {
      await withLogs([A, B, C, D], async () => {
      await waitHealth([D], 200);
      const users = [uid('d1'), uid('d2')];
      for (const u of users) await putJson(A, u, '/api/settings/presence', { showLastSeen: 'everyone' });
      const wa = keep(await connect(A, uid('wa')));
      const wc = keep(await connect(C, uid('wc')));
      await wa.subscribe(users);
      await wc.subscribe(users);
      const onD = [];
      for (const u of users) onD.push((await connect(D, u)).keepAlive());
      for (const w of [wa, wc]) for (const u of users) await w.waitForView(u, online, 3000);
      await sleep(300);
      const ma = wa.mark();
      const mc = wc.mark();

      const killedAt = Date.now();
      await D.kill9();
      const seen = [];
      for (const [w, m] of [[wa, ma], [wc, mc]]) {
        for (const u of users) {
          const v = await w.waitForView(u, offline, TIMEOUT + SLACK + 1000, m);
          const at = w.times[w.frames.findIndex((f, i) => i >= m && f?.type === 'presence_bulk' &&
            f.updates.some((x) => x.userId === u && x.status === 'offline'))];
          seen.push(at - killedAt);
          assert.ok(v.lastSeen <= killedAt + 50 && v.lastSeen >= killedAt - TIMEOUT, `lastSeen ${v.lastSeen - killedAt} ms from the kill`);
        }
      }
      t.diagnostic(`dead node detection (SIGKILL -> observers see offline), ms: ${seen.join(', ')} (timeoutMs ${TIMEOUT})`);
      for (const d of seen) assert.ok(d <= TIMEOUT + SLACK, `detected after ${d} ms`);
      assert.ok(Math.max(...seen) >= TIMEOUT / 2, 'not before the node could have been merely slow');
      for (const c of onD) c.stopKeepAlive();

      // They reconnect to another node (their old session died with D).
      const back = keep(await connect(B, users[0], { session: onD[0].session }));
      assert.notEqual(back.session, onD[0].session, 'a dead node\'s sessions are gone');
      await wa.waitForView(users[0], online, 3000, ma);
      await wc.waitForView(users[0], online, 3000, mc);
      const text = await metrics(A);
      assert.ok(metricValue(text, 'presence_cluster_nodes_expired_total') >= 1);
      assert.equal(metricValue(text, 'presence_cluster_nodes'), 2);
      await back.close();
      });
    } finally {
      await D.kill9();
    }
  });

  test('a node that stops cleanly: its users get the leave grace to reconnect elsewhere, then go offline', async () => {
    const E = await startNode(redis);
    await waitHealth([E], 200);
    const stays = uid('e1');
    const moves = uid('e2');
    await putJson(A, stays, '/api/settings/presence', { showLastSeen: 'everyone' });
    const w = keep(await connect(A, uid('we')));
    await w.subscribe([stays, moves]);
    (await connect(E, stays)).keepAlive();
    const mover = (await connect(E, moves)).keepAlive();
    await w.waitForView(stays, online, 3000);
    await w.waitForView(moves, online, 3000);
    const m = w.mark();
    const stoppedAt = Date.now();
    const stopped = E.stop();
    // The socket is closed 1001; the client reconnects to another node at
    // once, while E finishes exiting.
    assert.equal((await mover.waitForClose()).code, 1001);
    mover.stopKeepAlive();
    keep(await connect(B, moves));
    assert.equal(await stopped, 0);
    const off = await w.waitForView(stays, offline, GRACE + SLACK + 1000, m);
    const at = w.times[w.times.length - 1];
    assert.ok(at - stoppedAt >= GRACE - 50, `offline after ${at - stoppedAt} ms, before the grace`);
    assert.ok(Math.abs(off.lastSeen - stoppedAt) < 500, `lastSeen ${off.lastSeen - stoppedAt} ms from the stop`);
    await sleep(300);
    assert.deepEqual(w.viewsOf(moves, m).filter((v) => v.status !== 'online'), [], 'the user who moved never flapped');
  });

  test('a Redis that stops answering (SIGSTOP) is detected by the heartbeat; the nodes recover on SIGCONT', (t) => withLogs([A, B, C], async () => {
    const user = uid('frozen');
    const w = keep(await connect(A, uid('wf')));
    keep(await connect(B, user));
    await w.subscribe([user]);
    await w.waitForView(user, online, 3000);
    const m = w.mark();
    const stoppedAt = Date.now();
    redis.proc.kill('SIGSTOP');
    try {
      const degradedAt = await waitHealth([A, B, C], 503, 5000);
      await w.waitForError('unavailable', 3000, m);
      t.diagnostic(`hung redis detected ${degradedAt - stoppedAt} ms after SIGSTOP`);
      assert.ok(degradedAt - stoppedAt < 3000);
    } finally {
      redis.proc.kill('SIGCONT');
    }
    const resumedAt = Date.now();
    const healthyAt = await waitHealth([A, B, C], 200, 10000);
    t.diagnostic(`healthy ${healthyAt - resumedAt} ms after SIGCONT`);
    assert.deepEqual(w.viewsOf(user, m), [], 'the user on B never flapped');
    const m2 = w.mark();
    const late = keep(await connect(C, uid('late2')));
    late.send({ type: 'presence_subscribe', userIds: [user] });
    assertView((await late.waitForView(user, () => true, 3000)), { userId: user, status: 'online', device: 'web' }, 'state after recovery');
    assert.deepEqual(w.viewsOf(user, m2), []);
  }));

  test('Redis stopped and restarted: nodes degrade visibly, then recover by themselves without losing settings', (t) => withLogs([A, B, C], async () => {
    const target = uid('survivor');
    const contact = uid('friend');
    const stranger = uid('other');
    await putJson(B, target, '/api/settings/presence', { showOnlineStatus: 'contacts', showLastSeen: 'contacts' });
    await putJson(B, target, '/api/contacts', { contacts: [contact] });
    const c = keep(await connect(A, contact));
    const s = keep(await connect(C, stranger));
    const tb = keep(await connect(B, target));
    await c.subscribe([target]);
    await s.subscribe([target]);
    await c.waitForView(target, online, 3000);

    const mc = c.mark();
    const ms = s.mark();
    const downAt = Date.now();
    await redis.kill9();
    // Visible: healthz 503 on every node, metrics, an error frame.
    const degradedAt = await waitHealth([A, B, C], 503, 5000);
    await c.waitForError('unavailable', 3000, mc);
    await s.waitForError('unavailable', 3000, ms);
    assert.equal(metricValue(await metrics(A), 'presence_redis_up'), 0);
    const put = await http(B, 'PUT', '/api/settings/presence', { user: target, body: { showOnlineStatus: 'everyone' } });
    assert.equal(put.status, 503, 'no write is acknowledged while Redis is away');
    const get = await http(C, 'GET', '/api/settings/presence', { user: target });
    assert.equal(get.status, 503);
    // Frozen, not guessed: the target stays online for the contact, even
    // past the node TTL.
    await sleep(TIMEOUT + 300);
    assert.deepEqual(c.viewsOf(target, mc), []);
    // Meanwhile the target goes away; a user arrives on C.
    tb.send({ type: 'presence', status: 'away' });
    const late = uid('late');
    keep(await connect(C, late));

    const restartAt = Date.now();
    await redis.start();
    const healthyAt = await waitHealth([A, B, C], 200, 10000);
    // Converged: the change made during the outage reaches the contact.
    await c.waitForView(target, (v) => v.status === 'away', 5000, mc);
    const convergedAt = c.times[c.times.length - 1];
    const w = keep(await connect(A, uid('after')));
    assertView((await w.subscribe([late])).updates[0], { userId: late, status: 'online', device: 'web' }, 'user who arrived during the outage');
    t.diagnostic(`redis outage: nodes degraded ${degradedAt - downAt} ms after SIGKILL; healthy ${healthyAt - restartAt} ms and converged ${convergedAt - restartAt} ms after redis restarted`);
    assert.ok(healthyAt - restartAt < 5000);

    // Settings survived (AOF) and privacy still holds for the stranger.
    const settings = await http(A, 'GET', '/api/settings/presence', { user: target });
    assert.equal(settings.status, 200);
    assert.equal(settings.json.showOnlineStatus, 'contacts');
    for (const raw of framesAbout(s, target, ms)) {
      for (const f of VIEW_FIELDS) assert.ok(!raw.includes(`"${f}"`), `stranger got ${raw}`);
    }
    const m2 = c.mark();
    await putJson(C, target, '/api/settings/presence', { showOnlineStatus: 'nobody' });
    assertView(await c.waitForView(target, (v) => v.status === undefined, 3000, m2), { userId: target }, 'settings flow again');
    assert.equal(metricValue(await metrics(B), 'presence_redis_up'), 1);
  }));
});
