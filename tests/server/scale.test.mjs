// 1 000 concurrent connections (users u0..u999), each subscribed to 20
// others: every view correct, then half leave and the rest see them offline.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import {
  assertView, connectMany, metricValue, metrics, sleep, startServer,
} from './harness.mjs';

const N = 1000;
const FANOUT = 20;
const GRACE = 300;
const user = (i) => `u${i}`;
// Spread over the ring so half of each client's targets are in the half
// that leaves: u(i+1), u(i+51), ..., u(i+951).
const targetsOf = (i) => Array.from({ length: FANOUT }, (_, k) => user((i + 1 + k * 50) % N));

describe(`scale: ${N} connections x ${FANOUT} subscriptions`, () => {
  let server;
  let clients = [];
  before(async () => {
    // Pings are slow enough that a busy test process never misses one.
    server = await startServer({ pingMs: 3000, timeoutMs: 60000, leaveGraceMs: GRACE, flushMs: 50 });
  });
  after(async () => {
    for (const c of clients) c.terminate();
    await server?.stop();
  });

  test(`${N} users connect and each subscribes to ${FANOUT} others: every view is online`, async () => {
    const t0 = Date.now();
    clients = await connectMany(server, Array.from({ length: N }, (_, i) => user(i)), {}, 50);
    const connected = Date.now() - t0;
    const answers = [];
    for (let i = 0; i < N; i += 100) {
      answers.push(...await Promise.all(clients.slice(i, i + 100).map((c, j) => c.subscribe(targetsOf(i + j), { timeoutMs: 20000 }))));
    }
    for (let i = 0; i < N; i++) {
      const a = answers[i];
      assert.equal(a.updates.length, FANOUT, `u${i} answer size`);
      for (const id of targetsOf(i)) {
        const v = a.updates.find((x) => x.userId === id);
        assertView(v, { userId: id, status: 'online', device: 'web' }, `u${i} sees ${id}`);
      }
    }
    const text = await metrics(server);
    assert.equal(metricValue(text, 'presence_ws_sockets'), N);
    assert.equal(metricValue(text, 'presence_users', { status: 'online' }), N);
    assert.equal(metricValue(text, 'presence_subscription_edges'), N * FANOUT);
    assert.ok(Date.now() - t0 < 60000, `connected in ${connected} ms, subscribed in ${Date.now() - t0 - connected} ms`);
  });

  test('half close: the rest see exactly those users offline, once, and the others still online', async () => {
    assert.equal(clients.length, N, 'the previous scenario connected everyone');
    const keep = clients.slice(0, N / 2);
    const leave = clients.slice(N / 2);
    const marks = keep.map((c) => c.mark());
    const t0 = Date.now();
    await Promise.all(leave.map((c) => c.close()));
    const closedAt = Date.now();
    // Everyone left must be seen offline by each of its remaining watchers.
    await Promise.all(keep.map((c, i) => Promise.all(targetsOf(i)
      .filter((id) => Number(id.slice(1)) >= N / 2)
      .map((id) => c.waitForView(id, (v) => v.status === 'offline', GRACE + 10000, marks[i])))));
    const allSeen = Date.now();
    await sleep(300);  // anything else that might still come
    for (let i = 0; i < keep.length; i++) {
      const c = keep[i];
      assert.equal(c.closed, null, `u${i} still connected`);
      for (const id of targetsOf(i)) {
        const after = c.viewsOf(id, marks[i]);
        if (Number(id.slice(1)) >= N / 2) {
          assert.equal(after.length, 1, `u${i}: one update about ${id}: ${JSON.stringify(after)}`);
          assertView(after[0], { userId: id, status: 'offline' }, `u${i} sees ${id} (not a contact: no lastSeen)`);
        } else {
          assert.deepEqual(after, [], `u${i}: nothing about ${id}, who stayed`);
        }
      }
    }
    assert.ok(allSeen - closedAt < GRACE + 3000, `offline seen ${allSeen - closedAt} ms after the closes (closing took ${closedAt - t0} ms)`);
    let sockets;
    for (let i = 0; i < 30; i++) {
      sockets = metricValue(await metrics(server), 'presence_ws_sockets');
      if (sockets === N / 2) break;
      await sleep(100);
    }
    assert.equal(sockets, N / 2);
    const text = await metrics(server);
    assert.equal(metricValue(text, 'presence_users', { status: 'online' }), N / 2);
  });
});
