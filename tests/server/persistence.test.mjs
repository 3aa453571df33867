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
        const bulk = await wc.subscribe([a, b]);
        const va = bulk.updates.find((v) => v.userId === a);
        const vb = bulk.updates.find((v) => v.userId === b);
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

  test('SIGTERM during a leave grace: that user keeps the moment of the clean close as last seen', async () => {
    const server = await startServer({ leaveGraceMs: 5000 });
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
      const wc = await connect(server, w);
      const bulk = await wc.subscribe([g]);
      assertView(bulk.updates[0], { userId: g, status: 'offline', lastSeen: undefined }, 'after restart');
      assertNear(bulk.updates[0].lastSeen, closedAt, 200, 'lastSeen is the clean close, not the shutdown 800 ms later');
      await wc.close();
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
