// Liveness, leave grace, resume and activity TTL against the real clock.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import {
  assertNear, assertView, closeAll, connect, http, makeToken, rawWebSocket, sleep, startServer, uid,
} from './harness.mjs';

const PING = 200;
const FLUSH = 20;
const TIMEOUT = 1500;
const SLACK = 300;  // scheduling on a shared 2-core box

async function putContacts(server, user, contacts) {
  const res = await http(server, 'PUT', '/api/contacts', { user, body: { contacts } });
  assert.equal(res.status, 200, res.text);
}

// A target `t` watched by a contact (who may see lastSeen).
async function watched(server, prefix) {
  const t = uid(prefix);
  const wu = uid('watcher');
  await putContacts(server, t, [wu]);
  const w = (await connect(server, wu)).keepAlive();
  await w.subscribe([t]);
  return { t, w };
}

describe('liveness: dead connections and the heartbeat backstop (grace 3000 ms, so no grace is visible)', () => {
  let server;
  before(async () => {
    server = await startServer({ pingMs: PING, flushMs: FLUSH, timeoutMs: TIMEOUT, leaveGraceMs: 3000, heartbeatMs: 700 });
  });
  after(async () => { await server?.stop(); });

  // Each way of going silent: `connectSilent` returns {lastFrameAt, close()}.
  const variants = {
    'ws with autoPong:false': async (t) => {
      const c = await connect(server, t, { autoPong: false });
      c.send({ type: 'heartbeat' });
      return { lastFrameAt: c.lastSent, client: c };
    },
    'ws with its socket paused (reads nothing, so answers nothing)': async (t) => {
      const c = await connect(server, t);
      c.send({ type: 'heartbeat' });
      const lastFrameAt = c.lastSent;
      c.ws._socket.pause();
      return { lastFrameAt, client: c, paused: true };
    },
    'raw net.Socket: handshake, auth, then silence': async (t) => {
      const raw = await rawWebSocket(server);
      raw.send(JSON.stringify({ type: 'auth', token: makeToken(t), device: 'web' }));
      const lastFrameAt = Date.now();
      return { lastFrameAt, raw };
    },
  };

  for (const [name, goSilent] of Object.entries(variants)) {
    test(`an abrupt disconnect (${name}) shows offline within 2 x pingMs + flush, lastSeen = last heard`, async () => {
      const { t, w } = await watched(server, 'dead');
      const m = w.mark();
      const s = await goSilent(t);
      try {
        await w.waitForView(t, (v) => v.status === 'online', 2000, m);
        const v = await w.waitForView(t, (x) => x.status === 'offline', 3000, m);
        const arrived = Date.now();
        const after = arrived - s.lastFrameAt;
        assert.ok(after >= 2 * PING - 50, `offline after ${after} ms: sooner than 2 x pingMs`);
        assert.ok(after <= 2 * PING + FLUSH + SLACK, `offline after ${after} ms (> 2 x ${PING} + ${FLUSH} + ${SLACK}); no leave grace for the dead`);
        assertView(v, { userId: t, status: 'offline', lastSeen: undefined }, 'offline view');
        assertNear(v.lastSeen, s.lastFrameAt, 150, 'lastSeen is the last time it was heard');
        if (s.client && !s.paused) {
          const closed = await s.client.waitForClose(2000);
          assert.equal(closed.code, 4408, 'a dead connection is closed with 4408');
        }
      } finally {
        if (s.client) s.client.terminate();
        if (s.raw) s.raw.socket.destroy();
        await closeAll([w]);
      }
    });
  }

  test('the heartbeat backstop: answers pings, sends no frame -> dropped after timeoutMs, lastSeen = last frame, close 4408', async () => {
    const { t, w } = await watched(server, 'mute');
    const c = await connect(server, t);  // autoPong: pongs do not count
    try {
      await w.waitForView(t, (v) => v.status === 'online');
      await sleep(300);
      const m = w.mark();
      c.send({ type: 'heartbeat' });
      const lastFrameAt = c.lastSent;
      const v = await w.waitForView(t, (x) => x.status === 'offline', TIMEOUT + 3000, m);
      const after = Date.now() - lastFrameAt;
      assert.ok(after >= TIMEOUT - 50, `dropped ${after} ms after its last frame, before timeoutMs`);
      assert.ok(after <= TIMEOUT + PING + FLUSH + SLACK, `dropped ${after} ms after its last frame`);
      assertNear(v.lastSeen, lastFrameAt, 150, 'lastSeen is the last frame, not the last pong');
      const closed = await c.waitForClose(2000);
      assert.equal(closed.code, 4408);
    } finally { c.terminate(); await closeAll([w]); }
  });

  test('a client that sends a frame every heartbeatMs stays online past timeoutMs without a flap', async () => {
    const { t, w } = await watched(server, 'steady');
    const c = await connect(server, t);
    try {
      await w.waitForView(t, (v) => v.status === 'online');
      const m = w.mark();
      const timer = setInterval(() => c.send({ type: 'heartbeat' }), 700);
      await sleep(TIMEOUT * 2.5);
      clearInterval(timer);
      assert.deepEqual(w.frames.slice(m), [], 'no frame about a healthy client');
      assert.equal(c.closed, null);
      assert.equal(w.closed, null);
    } finally { await closeAll([c, w]); }
  });

  test('a dead tab does not take down a live tab of the same user', async () => {
    const { t, w } = await watched(server, 'twotabs');
    const dead = await connect(server, t, { autoPong: false });
    const live = await connect(server, t);
    try {
      await w.waitForView(t, (v) => v.status === 'online');
      const m = w.mark();
      const timer = setInterval(() => live.send({ type: 'heartbeat' }), 300);
      await sleep(2 * PING + 400);
      clearInterval(timer);
      assert.deepEqual(w.frames.slice(m), [], 'still online');
      assert.equal(w.closed, null);
      assert.equal((await dead.waitForClose(1000)).code, 4408);
    } finally { dead.terminate(); await closeAll([live, w]); }
  });
});

describe('leave grace and resume (grace 800 ms)', () => {
  const GRACE = 800;
  let server;
  before(async () => {
    server = await startServer({ pingMs: PING, flushMs: FLUSH, leaveGraceMs: GRACE, activityTtlMs: 300 });
  });
  after(async () => { await server?.stop(); });

  test('a clean close shows offline after leaveGraceMs, lastSeen = the moment of the close', async () => {
    const { t, w } = await watched(server, 'leaver');
    const c = await connect(server, t);
    await w.waitForView(t, (v) => v.status === 'online');
    const m = w.mark();
    await c.close();
    const v = await w.waitForView(t, (x) => x.status === 'offline', GRACE + 2000, m);
    const after = Date.now() - c.closeSentAt;
    assert.ok(after >= GRACE - 50, `offline ${after} ms after the close, inside the grace`);
    assert.ok(after <= GRACE + FLUSH + SLACK, `offline ${after} ms after the close`);
    assertView(v, { userId: t, status: 'offline', lastSeen: undefined }, 'offline');
    assertNear(v.lastSeen, c.closeSentAt, 150, 'lastSeen is the close, not the end of the grace');
    await closeAll([w]);
  });

  test('reload: close + reconnect with the session id -> same session, the watcher sees no frame', async () => {
    const { t, w } = await watched(server, 'reload');
    const c1 = await connect(server, t);
    let c2;
    try {
      c1.send({ type: 'presence', status: 'away' });
      await w.waitForView(t, (v) => v.status === 'away');
      const m = w.mark();
      await c1.close(1001);
      c2 = await connect(server, t, { session: c1.session, status: 'away' });
      assert.equal(c2.welcome.session, c1.session, 'the welcome carries the resumed id');
      c2.send({ type: 'presence', status: 'away' });  // re-sending status is idempotent
      await w.expectNoFrame(GRACE + 400, () => true, m);
      c2.send({ type: 'presence', status: 'online' });
      await w.waitForView(t, (v) => v.status === 'online', 2000, m);
    } finally { await closeAll([c1, c2, w]); }
  });

  test('resume while the old socket is open: old closed 4409, watcher sees no offline', async () => {
    const { t, w } = await watched(server, 'moved');
    const old = await connect(server, t);
    let neu;
    try {
      await w.waitForView(t, (v) => v.status === 'online');
      const m = w.mark();
      neu = await connect(server, t, { session: old.session });
      assert.equal(neu.welcome.session, old.session);
      const closed = await old.waitForClose(2000);
      assert.equal(closed.code, 4409);
      await w.expectNoFrame(GRACE + 400, () => true, m);  // the old socket's close never overrides
      const bulk = await neu.subscribe([t]);
      assertView(bulk.updates[0], { userId: t, status: 'online', device: 'web' }, 'still online');
      neu.send({ type: 'presence', status: 'away' });
      await w.waitForView(t, (v) => v.status === 'away', 2000, m);
    } finally { await closeAll([old, neu, w]); }
  });

  test('a session id past the grace, or unknown, gets a new session', async () => {
    const { t, w } = await watched(server, 'late');
    const c1 = await connect(server, t);
    const m = w.mark();
    await c1.close();
    await w.waitForView(t, (v) => v.status === 'offline', GRACE + 2000, m);
    const c2 = await connect(server, t, { session: c1.session });
    const c3 = await connect(server, t, { session: 'no-such-session-id' });
    try {
      assert.notEqual(c2.welcome.session, c1.session, 'expired id: new session');
      assert.notEqual(c3.welcome.session, 'no-such-session-id', 'unknown id: new session');
      await w.waitForView(t, (v) => v.status === 'online', 2000, m);
    } finally { await closeAll([c2, c3, w]); }
  });

  test("a session id of another user neither resumes nor disturbs that user's socket", async () => {
    const { t, w } = await watched(server, 'victim');
    const victim = await connect(server, t);
    const mallory = await connect(server, uid('mallory'));
    let thief;
    try {
      await w.waitForView(t, (v) => v.status === 'online');
      const m = w.mark();
      thief = await connect(server, mallory.user, { session: victim.session });
      assert.notEqual(thief.welcome.session, victim.session);
      assert.equal(thief.welcome.userId, mallory.user);
      await sleep(GRACE + 300);
      assert.equal(victim.closed, null, 'the victim socket stays open');
      assert.deepEqual(w.frames.slice(m), []);
    } finally { await closeAll([victim, mallory, thief, w]); }
  });

  test('activity is cleared activityTtlMs after the last activity frame, and refreshed by a new one', async () => {
    const { t, w } = await watched(server, 'typist');
    const c = await connect(server, t);
    try {
      await w.waitForView(t, (v) => v.status === 'online');
      let m = w.mark();
      c.send({ type: 'activity', activity: { type: 'typing', conversationId: 'c1' } });
      const sent = c.lastSent;
      await w.waitForView(t, (v) => v.activity?.type === 'typing', 2000, m);
      const cleared = await w.waitForView(t, (v) => !v.activity, 2000, m);
      const after = Date.now() - sent;
      assert.ok(after >= 300 - 30, `cleared after ${after} ms`);
      assert.ok(after <= 300 + FLUSH + SLACK, `cleared after ${after} ms`);
      assertView(cleared, { userId: t, status: 'online', device: 'web' }, 'cleared');

      // Refreshed every 150 ms for 600 ms: shown throughout, cleared ~300 ms after the last.
      m = w.mark();
      let last = 0;
      for (let i = 0; i < 5; i++) {
        c.send({ type: 'activity', activity: { type: 'typing', conversationId: 'c1' } });
        last = c.lastSent;
        await sleep(150);
      }
      const end = await w.waitForView(t, (v) => !v.activity, 2000, m);
      assert.ok(end, 'cleared at the end');
      const views = w.viewsOf(t, m);
      assert.equal(views.filter((v) => !v.activity).length, 1, `one clear only: ${JSON.stringify(views)}`);
      assert.ok(Date.now() - last >= 300 - 30, 'not cleared before the TTL after the last refresh');
    } finally { await closeAll([c, w]); }
  });

  test('activity is cleared at once when the user goes offline, and not restored', async () => {
    const { t, w } = await watched(server, 'gone');
    const c = await connect(server, t);
    try {
      // A long-lived activity: refresh it until offline.
      c.send({ type: 'activity', activity: { type: 'viewing', page: '/a' } });
      await w.waitForView(t, (v) => v.activity?.page === '/a');
      const m = w.mark();
      c.send({ type: 'presence', status: 'offline' });
      assertView(await w.waitForView(t, () => true, 2000, m), { userId: t, status: 'offline', lastSeen: undefined }, 'offline, no activity');
      c.send({ type: 'presence', status: 'online' });
      assertView(await w.waitForView(t, (v) => v.status === 'online', 2000, m), { userId: t, status: 'online', device: 'web' }, 'online, activity gone');
    } finally { await closeAll([c, w]); }
  });
});
