// Persistence across restarts: clean stops (SIGTERM, SIGINT) and crashes
// (SIGKILL). Last seen, settings and contacts live in SQLite.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import {
  assertNear, assertView, closeAll, connect, http, sleep, startServer, uid,
} from './harness.mjs';

async function put(server, user, p, body) {
  const res = await http(server, 'PUT', p, { user, body });
  assert.equal(res.status, 200, res.text);
  return res.json;
}

// The view of `user` once it is offline: the one in `bulk` if it already
// is, else the next update that says so.
async function offlineView(client, bulk, user, timeoutMs = 3000) {
  const first = bulk.updates.find((v) => v.userId === user);
  if (first?.status === 'offline') return first;
  return client.waitForView(user, (v) => v.status === 'offline', timeoutMs);
}

describe('persistence', () => {
  test('SIGTERM: sockets get 1001, exit 0; after restart last seen = the shutdown moment, settings and contacts as they were', async () => {
    const server = await startServer({ timeoutMs: 20000 });
    const a = uid('a');
    const b = uid('b');
    const w = uid('w');
    try {
      const settings = await put(server, a, '/api/settings/presence', { showLastSeen: 'everyone', showActivity: 'nobody' });
      await put(server, a, '/api/contacts', { contacts: ['x1', 'x2'] });
      await put(server, b, '/api/contacts', { contacts: [w] });
      const ac = await connect(server, a);
      const bc = await connect(server, b, { status: 'away' });
      // Their last frames are well before the stop, so "last seen = the
      // shutdown moment" is distinguishable from "last seen = last frame".
      await sleep(1500);
      const stopAt = Date.now();
      const code = await server.stop('SIGTERM');
      const stoppedAt = Date.now();
      assert.equal(code, 0, `exit code; log:\n${server.logs.slice(-2000)}`);
      assert.equal((await ac.waitForClose(2000)).code, 1001);
      assert.equal((await bc.waitForClose(2000)).code, 1001);

      await server.restart();
      const wc = await connect(server, w);
      try {
        // Their sessions were restored in their leave grace (300 ms here):
        // once it has passed they are offline, as of the shutdown.
        const bulk = await wc.subscribe([a, b]);
        const va = await offlineView(wc, bulk, a);
        const vb = await offlineView(wc, bulk, b);
        assertView(va, { userId: a, status: 'offline', lastSeen: undefined }, 'a after restart');
        assertView(vb, { userId: b, status: 'offline', lastSeen: undefined }, 'b after restart');
        for (const v of [va, vb]) {
          assert.ok(v.lastSeen >= stopAt - 100 && v.lastSeen <= stoppedAt + 100,
            `lastSeen ${v.lastSeen} is not the shutdown moment [${stopAt}, ${stoppedAt}] (${stopAt - v.lastSeen} ms before the signal)`);
        }
        assert.deepEqual((await http(server, 'GET', '/api/settings/presence', { user: a })).json, settings);
        assert.deepEqual((await http(server, 'GET', '/api/contacts', { user: a })).json.contacts.sort(), ['x1', 'x2']);
        assert.deepEqual((await http(server, 'GET', '/api/contacts', { user: b })).json, { contacts: [w] });
      } finally { await closeAll([wc]); }
    } finally { await server.stop(); }
  });

  test('SIGTERM during a leave grace: the rest of the grace runs after the restart, then last seen is the clean close', async () => {
    const server = await startServer({ leaveGraceMs: 3000 });
    const g = uid('g');
    const w = uid('w');
    try {
      await put(server, g, '/api/contacts', { contacts: [w] });
      const gc = await connect(server, g);
      await sleep(100);
      await gc.close();
      const closedAt = gc.closeSentAt;
      await sleep(800);  // still inside the grace
      assert.equal(await server.stop('SIGTERM'), 0);
      await server.restart();
      const restartedAt = Date.now();
      const wc = await connect(server, w);
      const bulk = await wc.subscribe([g]);
      assertView(bulk.updates[0], { userId: g, status: 'online', device: 'web' }, 'in what was left of the grace');
      const v = await offlineView(wc, bulk, g, 6000);
      const offlineAt = wc.times[wc.frames.findLastIndex((f) => f?.updates?.some((u) => u.userId === g))];
      assert.ok(offlineAt - restartedAt >= 3000 - 800 - 300,
        `offline ${offlineAt - restartedAt} ms after the restart: about 2200 ms of grace were left`);
      assertNear(v.lastSeen, closedAt, 200, 'lastSeen is the clean close, not the shutdown 800 ms later');
      await wc.close();
    } finally { await server.stop(); }
  });

  test('SIGTERM then restart: observers never see a user offline who resumes within the grace; one who does not goes offline after it, last seen = the shutdown', async () => {
    const grace = 3000;
    const server = await startServer({ leaveGraceMs: grace, timeoutMs: 20000 });
    const a = uid('a');
    const b = uid('b');
    const w = uid('w');
    try {
      // lastSeen is shown to contacts by default.
      await put(server, a, '/api/contacts', { contacts: [w] });
      await put(server, b, '/api/contacts', { contacts: [w] });
      const ac = await connect(server, a, { device: 'mobile' });
      const bc = await connect(server, b);
      const wc = await connect(server, w);
      await wc.subscribe([a, b]);
      await sleep(500);
      const stopAt = Date.now();
      assert.equal(await server.stop('SIGTERM'), 0);
      const stoppedAt = Date.now();
      for (const c of [ac, bc, wc]) assert.equal((await c.waitForClose(2000)).code, 1001);

      await server.restart();
      const restartedAt = Date.now();
      // The observer comes back first and re-subscribes: a has not resumed
      // yet and shows online (restored), not offline.
      const wc2 = await connect(server, w, { session: wc.session });
      assert.equal(wc2.session, wc.session, 'the observer resumed its session');
      const bulk = await wc2.subscribe([a, b]);
      assertView(bulk.updates.find((v) => v.userId === a), { userId: a, status: 'online', device: 'mobile' }, 'a before it resumes');
      assertView(bulk.updates.find((v) => v.userId === b), { userId: b, status: 'online', device: 'web' }, 'b before the grace ends');
      const ac2 = await connect(server, a, { session: ac.session, device: 'mobile' });
      assert.equal(ac2.session, ac.session, 'a resumed the session saved at shutdown');

      const vb = await offlineView(wc2, bulk, b, grace + 3000);
      const offAt = Date.now();
      assert.ok(offAt - restartedAt >= grace - 300, `b went offline ${offAt - restartedAt} ms after the restart (grace ${grace})`);
      assert.ok(vb.lastSeen >= stopAt - 100 && vb.lastSeen <= stoppedAt + 100,
        `b's lastSeen ${vb.lastSeen} is not the shutdown moment [${stopAt}, ${stoppedAt}]`);
      await sleep(500);
      // On the raw frames: not one view of a says offline.
      const aOffline = wc2.raw.filter((t) => t.includes(`"userId":"${a}"`) && /"status":"offline"/.test(
        t.slice(t.indexOf(`"userId":"${a}"`)).split('}')[0]));
      assert.deepEqual(aOffline, [], 'a flapped offline');
      assert.equal(wc2.latest(a).status, 'online');
      await closeAll([ac2, wc2]);
    } finally { await server.stop(); }
  });

  test('SIGTERM twice in a row without clients in between: the second start restores nothing the first did not hand on', async () => {
    const server = await startServer({ leaveGraceMs: 5000, timeoutMs: 20000 });
    const a = uid('a');
    const w = uid('w');
    try {
      await put(server, a, '/api/contacts', { contacts: [w] });
      const ac = await connect(server, a);
      await sleep(200);
      assert.equal(await server.stop('SIGTERM'), 0);
      await ac.waitForClose(2000);
      // Restored, not resumed, then killed: a crash saves nothing, and the
      // sessions were taken at the start, so the next start has none.
      await server.restart();
      await server.kill9();
      await server.restart();
      const wc = await connect(server, w);
      const bulk = await wc.subscribe([a]);
      assertView(bulk.updates[0], { userId: a, status: 'offline', lastSeen: undefined }, 'a after the crash');
      const resumed = await connect(server, a, { session: ac.session });
      assert.notEqual(resumed.session, ac.session, 'nothing to resume after a crash');
      await closeAll([wc, resumed]);
    } finally { await server.stop(); }
  });

  test('SIGINT stops cleanly too (exit 0, sockets 1001)', async () => {
    const server = await startServer();
    const c = await connect(server, uid('i'));
    await sleep(100);
    assert.equal(await server.stop('SIGINT'), 0);
    assert.equal((await c.waitForClose(2000)).code, 1001);
  });

  test('SIGTERM right after the "listening" line still exits 0 (the first line means ready)', async () => {
    const codes = [];
    for (let i = 0; i < 8; i++) {
      const server = await startServer();
      codes.push(await server.stop('SIGTERM'));
    }
    assert.deepEqual(codes, codes.map(() => 0), `exit codes: ${codes.join(', ')}`);
  });

  test('SIGKILL: after restart last seen is within ~1 s of the last activity; settings and contacts survive', async () => {
    const server = await startServer({ timeoutMs: 20000, leaveGraceMs: 300 });
    const a = uid('a');
    const gone = uid('gone');
    const w = uid('w');
    try {
      await put(server, a, '/api/contacts', { contacts: [w] });
      await put(server, gone, '/api/contacts', { contacts: [w] });
      const ac = await connect(server, a);
      const gc = await connect(server, gone);
      // `gone` leaves cleanly long before the crash: its last seen is exact.
      await sleep(200);
      await gc.close();
      const goneAt = gc.closeSentAt;
      // `a` stays active until the crash, a frame every 100 ms.
      const timer = setInterval(() => ac.send({ type: 'heartbeat' }), 100);
      await sleep(2500);
      // Settings written just before the crash were committed before the 200.
      const settings = await put(server, a, '/api/settings/presence', { showOnlineStatus: 'contacts', showActivity: 'everyone' });
      await put(server, a, '/api/contacts', { contacts: [w, 'late'] });
      const killAt = Date.now();
      clearInterval(timer);
      const code = await server.kill9();
      assert.equal(code, 'SIGKILL');
      ac.terminate();

      await server.restart();
      const wc = await connect(server, w);
      try {
        const bulk = await wc.subscribe([a, gone]);
        const va = bulk.updates.find((v) => v.userId === a);
        const vg = bulk.updates.find((v) => v.userId === gone);
        assertView(va, { userId: a, status: 'offline', lastSeen: undefined }, 'a after the crash');
        assert.ok(va.lastSeen <= killAt + 50, `lastSeen ${va.lastSeen} after the kill ${killAt}`);
        assert.ok(va.lastSeen >= killAt - 1400,
          `lastSeen is ${killAt - va.lastSeen} ms before the kill: not flushed every second (a connected ${killAt - ac.authSentAt} ms before)`);
        assertView(vg, { userId: gone, status: 'offline', lastSeen: undefined }, 'gone after the crash');
        assertNear(vg.lastSeen, goneAt, 150, 'a clean close before the crash keeps its exact last seen');
        assert.deepEqual((await http(server, 'GET', '/api/settings/presence', { user: a })).json, settings);
        assert.deepEqual((await http(server, 'GET', '/api/contacts', { user: a })).json.contacts.sort(), [w, 'late'].sort());
      } finally { await closeAll([wc]); }
    } finally { await server.stop(); }
  });
});
