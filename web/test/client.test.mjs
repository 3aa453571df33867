// Scenarios against the real presence-server and the real WASM core in Node,
// with `ws` as the WebSocket.
import test from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { createPresenceClient, createStore } from '../src/index.js';
import { loadTestCore, freePort, startServer, killServer, devToken, waitFor, sleep } from './helpers.mjs';

const core = await loadTestCore();
const port = await freePort();
let server = await startServer(port);
const httpUrl = server.url;
const wsUrl = httpUrl.replace(/^http/, 'ws') + '/ws';

const tokenCalls = { alice: 0, bob: 0 };
function makeClient(userId, extra = {}) {
  return createPresenceClient({
    url: wsUrl,
    getToken: async () => {
      tokenCalls[userId] = (tokenCalls[userId] ?? 0) + 1;
      return devToken(server.url, userId);
    },
    device: 'web',
    core,
    WebSocket,
    config: { backoffBaseMs: 100, backoffCapMs: 400 },
    ...extra,
  });
}

const a = makeClient('alice');
const b = makeClient('bob');
await Promise.all([a.ready, b.ready]);

test.after(async () => {
  a.close();
  b.close();
  await killServer(server, 'SIGTERM');
});

test('connect A => connect B => B subscribes to A => A online on B', async () => {
  await waitFor(a, () => a.connectionState === 'connected', 5000, 'A connected');
  await waitFor(b, () => b.connectionState === 'connected', 5000, 'B connected');
  assert.equal(a.userId, 'alice');
  assert.ok(a.sessionId);
  b.subscribe(['alice']);
  const view = await waitFor(b, () => b.isOnline('alice') && b.getPresence('alice'), 5000, 'alice online');
  assert.equal(view.userId, 'alice');
  assert.equal(view.device, 'web');
  assert.ok(Object.isFrozen(view));
});

test('unknown user reads unknown, never offline, and the read is stable', () => {
  const v1 = b.getPresence('nobody-here');
  assert.equal(v1.status, 'unknown');
  assert.equal(b.getPresence('nobody-here'), v1);
  assert.equal(b.isOnline('nobody-here'), false);
});

test('store snapshots are stable: same object when nothing changed, frozen', async () => {
  const s1 = b.getSnapshot();
  assert.equal(b.getSnapshot(), s1);
  assert.ok(Object.isFrozen(s1));
  assert.equal(s1.get('alice').status, 'online');
  // Re-subscribing an id already followed brings a bulk with the same view:
  // no new snapshot.
  b.subscribe(['alice']);
  await sleep(200);
  assert.equal(b.getSnapshot(), s1);
  assert.equal(b.store.getSnapshot(), s1);
});

test('per-user listeners fire only for their user', async () => {
  let aliceCalls = 0;
  let otherCalls = 0;
  const off1 = b.store.subscribeUser('alice', () => aliceCalls++);
  const off2 = b.store.subscribeUser('carol', () => otherCalls++);
  a.setStatus('away');
  await waitFor(b, () => b.getPresence('alice').status === 'away', 5000, 'alice away');
  assert.ok(aliceCalls >= 1);
  assert.equal(otherCalls, 0);
  off1();
  off2();
  a.setStatus('online');
  await waitFor(b, () => b.isOnline('alice'), 5000, 'alice back online');
});

test('A typing shows on B (a contact of A), then clears after about 3 s', async () => {
  // Activity is shown to contacts by default.
  await a.contacts.set(['bob']);
  a.startTyping('conv-1');
  const view = await waitFor(b, () => b.getPresence('alice').activity?.type === 'typing' && b.getPresence('alice'), 3000, 'typing');
  assert.equal(view.activity.conversationId, 'conv-1');
  const started = Date.now();
  await waitFor(b, () => !b.getPresence('alice').activity || b.getPresence('alice').activity.type === 'idle', 6000, 'typing cleared');
  const elapsed = Date.now() - started;
  assert.ok(elapsed > 1500 && elapsed < 5500, `cleared after ${elapsed} ms`);
});

test('settings and contacts over REST with the bearer token', async () => {
  const before = await a.settings.get();
  assert.equal(before.showOnlineStatus, 'everyone');
  const after = await a.settings.update({ showActivity: 'nobody' });
  assert.equal(after.showActivity, 'nobody');
  assert.equal(after.showOnlineStatus, 'everyone');
  await a.settings.update({ showActivity: 'contacts' });
  await assert.rejects(a.settings.update({ showActivity: 'bogus' }), (e) => e.status === 400);
  assert.deepEqual(await a.contacts.set(['bob']), ['bob']);
  assert.deepEqual(await a.contacts.get(), ['bob']);
});

test('server killed (SIGKILL) and restarted on the same port => both reconnect, presence restores', async () => {
  const callsBefore = tokenCalls.alice;
  await killServer(server, 'SIGKILL');
  await waitFor(a, () => a.connectionState !== 'connected', 5000, 'A notices the drop');
  await waitFor(b, () => b.connectionState !== 'connected', 5000, 'B notices the drop');
  server = await startServer(port);
  await waitFor(a, () => a.connectionState === 'connected', 10000, 'A reconnected');
  await waitFor(b, () => b.connectionState === 'connected', 10000, 'B reconnected');
  assert.ok(tokenCalls.alice > callsBefore, 'getToken is called again on reconnect');
  // The new server knows nothing: B re-subscribed and sees alice online again.
  await waitFor(b, () => b.isOnline('alice'), 5000, 'alice online after restart');
  a.setStatus('away');
  await waitFor(b, () => b.getPresence('alice').status === 'away', 5000, 'alice away after restart');
  a.setStatus('online');
  await waitFor(b, () => b.isOnline('alice'), 5000, 'alice online again');
});

test('A closes => offline on B with a last seen, never unknown', async () => {
  const c = makeClient('carol');
  await c.ready;
  await c.contacts.set(['bob']); // last seen is shown to contacts by default
  b.subscribe(['carol']);
  await waitFor(b, () => b.isOnline('carol'), 5000, 'carol online');
  c.close();
  assert.equal(c.connectionState, 'idle');
  const view = await waitFor(b, () => b.getPresence('carol').status === 'offline' && b.getPresence('carol'), 5000, 'carol offline');
  assert.equal(typeof view.lastSeen, 'number');
});

test('store: apply without change keeps the snapshot; removed ids drop', () => {
  const store = createStore();
  const s0 = store.getSnapshot();
  assert.equal(store.apply({ changed: [], removed: [] }), false);
  assert.equal(store.getSnapshot(), s0);
  store.apply({ changed: [{ userId: 'x' }], removed: [] });
  const s1 = store.getSnapshot();
  assert.notEqual(s1, s0);
  assert.equal(s1.get('x').status, 'unknown');
  assert.equal(store.apply({ changed: [{ userId: 'x' }], removed: [] }), false);
  assert.equal(store.getSnapshot(), s1);
  store.apply({ changed: [], removed: ['x'] });
  assert.equal(store.getSnapshot().has('x'), false);
  assert.equal(store.getView('x').status, 'unknown');
  // Owned Views (the module's, frozen) are kept as the very objects;
  // others are frozen copies.
  const mine = Object.freeze({ userId: 'y', status: 'online' });
  store.apply({ changed: [mine] }, 'idle', true);
  assert.equal(store.getView('y'), mine);
  const theirs = { userId: 'z', status: 'away' };
  store.apply({ changed: [theirs] });
  assert.notEqual(store.getView('z'), theirs);
  assert.ok(Object.isFrozen(store.getView('z')));
  assert.deepEqual(store.getView('z'), theirs);
  const hidden = Object.freeze({ userId: 'w' });
  store.apply({ changed: [hidden] }, 'idle', true);
  assert.deepEqual(store.getView('w'), { userId: 'w', status: 'unknown' });
});

// A socket the test plays the server on (the bench's stand-in).
class FakeSocket {
  static last = null;
  constructor() {
    FakeSocket.last = this;
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

test('views as hooks read them: a new frozen object when a user\'s View changes, the same one when it does not', async () => {
  const c = createPresenceClient({ url: 'ws://test.invalid/ws', token: 't', core, WebSocket: FakeSocket, trackBrowser: false });
  await c.ready;
  await waitFor(c, () => FakeSocket.last?.sent.length > 0, 5000, 'auth sent');
  const ws = FakeSocket.last;
  ws.onmessage({ data: JSON.stringify({ type: 'welcome', userId: 'me', session: 's-1', heartbeatMs: 30000, serverTime: Date.now() }) });
  c.subscribe(['u1', 'u2', 'u3']);
  const bulk = (...updates) => ws.onmessage({ data: JSON.stringify({ type: 'presence_bulk', updates }) });
  const calls = { u1: 0, u2: 0 };
  const offs = ['u1', 'u2'].map((id) => c.store.subscribeUser(id, () => calls[id]++));

  bulk({ userId: 'u1', status: 'online', device: 'web' }, { userId: 'u2', status: 'online', device: 'web' }, { userId: 'u3' });
  const online = c.getPresence('u1');
  assert.deepEqual(online, { userId: 'u1', status: 'online', device: 'web' });
  assert.ok(Object.isFrozen(online));
  assert.deepEqual(c.getPresence('u3'), { userId: 'u3', status: 'unknown' }, 'a hidden status reads unknown');
  assert.ok(Object.isFrozen(c.getPresence('u3')));
  assert.deepEqual(calls, { u1: 1, u2: 1 });

  // u2 changes, u1 does not: u1 keeps its object and its listener is quiet.
  bulk({ userId: 'u1', status: 'online', device: 'web' }, { userId: 'u2', status: 'away', device: 'web' });
  assert.equal(c.getPresence('u1'), online);
  assert.deepEqual(calls, { u1: 1, u2: 2 });

  bulk({ userId: 'u1', status: 'away', device: 'web' });
  const away = c.getPresence('u1');
  assert.notEqual(away, online);
  assert.deepEqual(away, { userId: 'u1', status: 'away', device: 'web' });
  assert.ok(Object.isFrozen(away));
  assert.equal(c.getPresence('u1'), away, 'read twice, one object');
  assert.deepEqual(calls, { u1: 2, u2: 2 });

  // Back to online: an object other than the one just shown (it may be the
  // earlier online one, equal in every field).
  bulk({ userId: 'u1', status: 'online', device: 'web' });
  const back = c.getPresence('u1');
  assert.notEqual(back, away);
  assert.deepEqual(back, online);
  assert.deepEqual(calls, { u1: 3, u2: 2 });

  bulk({ userId: 'u1', status: 'online', device: 'web', activity: { type: 'viewing', page: '/inbox' } });
  const viewing = c.getPresence('u1');
  assert.deepEqual(viewing.activity, { type: 'viewing', page: '/inbox' });
  assert.ok(Object.isFrozen(viewing) && Object.isFrozen(viewing.activity));
  assert.notEqual(viewing, back);
  offs.forEach((off) => off());
  c.close();
});

test('one timer at a time, set to the core deadline; close() clears it', async () => {
  const live = new Set();
  let maxLive = 0;
  const c = makeClient('dave', {
    setTimeout: (fn, ms) => {
      const id = setTimeout(() => {
        live.delete(id);
        fn();
      }, ms);
      live.add(id);
      maxLive = Math.max(maxLive, live.size);
      return id;
    },
    clearTimeout: (id) => {
      live.delete(id);
      clearTimeout(id);
    },
  });
  await c.ready;
  await waitFor(c, () => c.connectionState === 'connected', 5000, 'dave connected');
  c.subscribe(['alice', 'bob']);
  c.startTyping('x');
  await sleep(300);
  assert.equal(maxLive, 1);
  c.close();
  assert.equal(live.size, 0);
  assert.equal(c.setStatus('away'), false, 'inputs after close are ignored');
});
