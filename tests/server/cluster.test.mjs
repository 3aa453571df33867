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
import { spawnSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';

import {
  assertView, closeAll, connect, http, metricValue, metrics, sleep, startServer, uid, VIEW_FIELDS,
} from './harness.mjs';
import { freePort, healthz, startRedis, waitHealth, withLogs } from './cluster_harness.mjs';

const TIMEOUT = 2000;  // --timeout-ms: also a dead node's TTL
const PING = 500;  // a pong is due within 2 x PING: room for a loaded box
const FLUSH = 20;
const GRACE = 1000;  // --leave-grace-ms: room for a reconnect under ASan
const SLACK = 1000;  // scheduling on a shared 2-core box
const NODE_OPTS = { timeoutMs: TIMEOUT, pingMs: PING, flushMs: FLUSH, leaveGraceMs: GRACE, heartbeatMs: 1000 };

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
          // Last seen is when this node last heard from D: a heartbeat D
          // sent before the kill may be read up to SLACK later on a loaded box.
          assert.ok(v.lastSeen <= killedAt + SLACK && v.lastSeen >= killedAt - TIMEOUT, `lastSeen ${v.lastSeen - killedAt} ms from the kill`);
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

// Liveness is not under test here: pings slow enough that a loaded box
// cannot make a watcher look dead.
const AUTH_OPTS = { ...NODE_OPTS, pingMs: 1000 };

describe('cluster: Redis with a password (AUTH)', () => {
  const PASSWORD = `pw-${process.pid}-s3cr/t@x`;  // '/' and '@' must survive the URL
  let redis;
  const nodes = [];
  const clients = [];
  before(async () => {
    redis = await startRedis({ password: PASSWORD });
  });
  after(async () => {
    await closeAll(clients);
    await Promise.all(nodes.map((n) => n.stop().catch(() => {})));
    await redis?.kill9();
  });
  const noPassword = (text, where) => {
    assert.ok(!text.includes(PASSWORD), `${where} holds the password`);
    assert.ok(!text.includes(encodeURIComponent(PASSWORD)), `${where} holds the encoded password`);
  };

  test('requirepass and an ACL user: nodes authenticate on every connection and work as a cluster', async () => {
    redis.cli('ACL', 'SETUSER', 'presence', 'on', '>acl-pw-1', '~presence:*', '&presence:*', '+@all');
    const aclUrl = `redis://presence:acl-pw-1@127.0.0.1:${redis.port}/3`;
    const A = await startServer({ ...AUTH_OPTS, args: ['--redis', redis.url] });  // redis://:<password>@...
    nodes.push(A);
    const B = await startServer({ ...AUTH_OPTS, args: ['--redis', aclUrl] });
    nodes.push(B);
    await waitHealth([A, B], 200);
    // DB 3 for B, DB 0 for A: separate clusters. A second node on DB 3
    // (the ACL user) sees B's users.
    const B2 = await startServer({ ...AUTH_OPTS, args: ['--redis', aclUrl] });
    nodes.push(B2);
    await waitHealth([B2], 200);
    const user = uid('authed');
    const w = await connect(B2, uid('aw'));
    clients.push(w.keepAlive());
    await w.subscribe([user]);
    const u = await connect(B, user);
    clients.push(u.keepAlive());
    assertView(await w.waitForView(user, online, 3000), { userId: user, status: 'online', device: 'web' }, 'across nodes with AUTH');
    await putJson(A, user, '/api/settings/presence', { showLastSeen: 'nobody' });
    assert.equal((await http(A, 'GET', '/api/settings/presence', { user })).json.showLastSeen, 'nobody');
    assert.ok(Number(redis.cli('-n', '3', 'EXISTS', 'presence:nodes')[0]) === 1, 'B wrote to DB 3');
    for (const n of [A, B, B2]) {
      noPassword(n.logs, `node :${n.port} log`);
      noPassword(await metrics(n), `node :${n.port} /metrics`);
      assert.ok(!n.logs.includes('acl-pw-1'), 'the ACL password in a log');
    }
    assert.match(A.logs, /with AUTH/);
  });

  test('a wrong password at start: exit non-zero with "redis auth failed", never echoing the password', () => {
    for (const url of [`redis://:wrong-${PASSWORD}@127.0.0.1:${redis.port}`, `redis://presence:nope-acl@127.0.0.1:${redis.port}`]) {
      const r = spawnSync(process.env.PRESENCE_SERVER_BIN, ['--host', '127.0.0.1', '--port', '0', '--jwt-secret', 'x'.repeat(32), '--redis', url],
        { encoding: 'utf8', timeout: 15000 });
      assert.notEqual(r.status, 0, r.stderr);
      assert.equal(r.stdout, '', 'it never listened');
      assert.match(r.stderr, /redis auth failed/);
      assert.ok(!r.stderr.includes('wrong-') && !r.stderr.includes('nope-acl'), r.stderr);
    }
    // No password against a Redis that wants one: same error.
    const r = spawnSync(process.env.PRESENCE_SERVER_BIN, ['--host', '127.0.0.1', '--port', '0', '--jwt-secret', 'x'.repeat(32), '--redis', `redis://127.0.0.1:${redis.port}`],
      { encoding: 'utf8', timeout: 15000 });
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /NOAUTH|auth/i);
  });

  test('rediss:// (TLS) is refused at start as not supported', () => {
    const r = spawnSync(process.env.PRESENCE_SERVER_BIN, ['--redis', `rediss://:${PASSWORD}@127.0.0.1:6380`, '--dev'], { encoding: 'utf8' });
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /rediss:\/\/ \(TLS\) is not supported/);
    noPassword(r.stderr, 'the error');
  });

  test('the password changed under a running node: it degrades like an outage, and recovers once it is right again', async (t) => {
    const A = nodes[0];
    await waitHealth([A], 200);
    const c = await connect(A, uid('pwc'));
    clients.push(c.keepAlive());
    const m = c.mark();
    redis.cli('CONFIG', 'SET', 'requirepass', 'rotated-elsewhere');
    // Drop the nodes' connections: they come back with the old password.
    const cliAs = (pw, ...args) => {
      const env = { ...process.env, REDISCLI_AUTH: pw };
      const r = spawnSync('redis-cli', ['-h', '127.0.0.1', '-p', String(redis.port), ...args], { encoding: 'utf8', env });
      assert.equal(r.status, 0, r.stderr);
      return r.stdout.trim();
    };
    cliAs('rotated-elsewhere', 'CLIENT', 'KILL', 'TYPE', 'pubsub');
    cliAs('rotated-elsewhere', 'CLIENT', 'KILL', 'TYPE', 'normal');
    const downAt = Date.now();
    await waitHealth([A], 503, 5000);
    await c.waitForError('unavailable', 3000, m);
    assert.equal(metricValue(await metrics(A), 'presence_redis_up'), 0);
    await waitUntilLog(A, /auth failed/, 3000);
    // Back to the password the node has: it heals by itself.
    assert.equal(cliAs('rotated-elsewhere', 'CONFIG', 'SET', 'requirepass', PASSWORD), 'OK');
    const fixedAt = Date.now();
    const healthyAt = await waitHealth([A], 200, 10000);
    t.diagnostic(`wrong password: degraded within ${fixedAt - downAt} ms; healthy ${healthyAt - fixedAt} ms after the password was right again`);
    noPassword(A.logs, 'log');
    assert.ok(!A.logs.includes('rotated-elsewhere'));
  });
});

async function waitUntilLog(node, re, timeoutMs) {
  const until = Date.now() + timeoutMs;
  while (!re.test(node.logs)) {
    if (Date.now() > until) throw new Error(`no ${re} in the log of :${node.port}:\n${node.logs.slice(-2000)}`);
    await sleep(50);
  }
}
