// The client session driven through the WASM bindings, as the browser shim
// drives it: one call per input, then one poll per output kind. Time is a
// plain number moved by hand.

import assert from 'node:assert/strict';
import { before, test } from 'node:test';

import loadPresenceCore from '../../wasm/presence_core_node.mjs';

let core;
before(async () => {
  core = await loadPresenceCore();
});

const T0 = Date.UTC(2024, 0, 15, 12, 0, 0);

function newSession(config = { seed: 7 }) {
  const session = core.ClientSession.create(JSON.stringify(config));
  assert.ok(session, 'create() returned null for a valid config');
  return session;
}

function sent(session) {
  return session.pollTransmits().map((frame) => JSON.parse(frame));
}

function changes(session) {
  return JSON.parse(session.pollChangesJson());
}

function welcome({ session = 's-1', serverTime = T0, heartbeatMs = 30000 } = {}) {
  return JSON.stringify({
    type: 'welcome', userId: 'alice', session, heartbeatMs, serverTime,
  });
}

// start -> open -> auth -> welcome: a connected session, outputs drained.
function connect(session, now) {
  session.setToken('token-1');
  session.start(now);
  assert.equal(session.pollAction(), 'open');
  session.handleSocketOpen(now);
  const [auth] = sent(session);
  assert.equal(auth.type, 'auth');
  assert.equal(session.handleMessage(welcome(), now), '');
  assert.equal(session.state(), 'connected');
  sent(session);
  return session;
}

test('start => open => auth => welcome => subscribe => bulk => views => close => backoff reconnect => resume => re-subscribe', () => {
  const s = newSession();
  let now = T0;

  assert.equal(s.state(), 'idle');
  assert.equal(s.nextDeadline(), -1);
  assert.equal(s.setToken('token-1'), true);
  s.start(now);
  assert.equal(s.state(), 'connecting');
  assert.equal(s.pollAction(), 'open');
  assert.equal(s.pollAction(), '', 'one open per start');

  now += 40;
  s.handleSocketOpen(now);
  assert.equal(s.state(), 'authenticating');
  const [auth, ...rest] = sent(s);
  assert.deepEqual(rest, []);
  assert.equal(auth.type, 'auth');
  assert.equal(auth.token, 'token-1');
  assert.equal(auth.device, 'web');
  assert.equal(auth.status, 'online');
  assert.equal(auth.session, undefined, 'a first connect resumes nothing');

  now += 60;
  assert.equal(s.handleMessage(welcome({ serverTime: now + 1500 }), now), '');
  assert.equal(s.state(), 'connected');
  assert.equal(s.sessionId(), 's-1');
  assert.equal(s.userId(), 'alice');
  assert.equal(s.serverOffsetMs(), 1500);
  assert.equal(s.heartbeatMs(), 30000);
  assert.equal(s.lastErrorJson(), '');

  assert.equal(s.subscribe(['bob', 'carol'], now), true);
  const subscribe = sent(s);
  assert.equal(subscribe.length, 1);
  assert.equal(subscribe[0].type, 'presence_subscribe');
  assert.deepEqual(subscribe[0].userIds, ['bob', 'carol']);
  assert.notEqual(subscribe[0].replace, true);

  const bob = {
    userId: 'bob', status: 'online', device: 'mobile',
    activity: { type: 'typing', conversationId: 'c-1' },
  };
  const carol = { userId: 'carol', status: 'offline', lastSeen: T0 - 5 * 60000 };
  const bulk = JSON.stringify({ type: 'presence_bulk', updates: [bob, carol] });
  now += 20;
  assert.equal(s.handleMessage(bulk, now), '');
  assert.deepEqual(changes(s), { changed: [bob, carol], removed: [] });
  assert.deepEqual(changes(s), { changed: [], removed: [] }, 'drained');
  assert.deepEqual(JSON.parse(s.getViewJson('bob')), bob);
  assert.equal(s.getViewJson('dave'), '');

  // The same bulk again changes nothing.
  assert.equal(s.handleMessage(bulk, now), '');
  assert.deepEqual(changes(s), { changed: [], removed: [] });

  // Heartbeat due heartbeatMs after the last frame sent.
  assert.equal(s.nextDeadline(), T0 + 100 + 30000);

  // The socket drops: a reconnect is scheduled within the first backoff step.
  now += 1000;
  const closedAt = now;
  s.handleSocketClose(1006, now);
  assert.equal(s.state(), 'reconnecting');
  assert.equal(s.pollAction(), '');
  const reconnectAt = s.nextDeadline();
  assert.ok(reconnectAt >= closedAt && reconnectAt <= closedAt + 500,
    `reconnect at +${reconnectAt - closedAt} ms, want [0, 500]`);
  if (reconnectAt > closedAt) {
    s.handleTimeout(reconnectAt - 1);
    assert.equal(s.pollAction(), '', 'not before the deadline');
  }
  now = reconnectAt;
  s.handleTimeout(now);
  assert.equal(s.pollAction(), 'open');
  assert.equal(s.state(), 'connecting');

  // Views stay cached while away.
  assert.deepEqual(JSON.parse(s.getViewJson('carol')), carol);

  now += 30;
  s.handleSocketOpen(now);
  const [resume] = sent(s);
  assert.equal(resume.type, 'auth');
  assert.equal(resume.session, 's-1', 'auth resumes the old session');
  assert.equal(resume.status, 'online');

  now += 30;
  assert.equal(s.handleMessage(welcome({ serverTime: now }), now), '');
  assert.equal(s.state(), 'connected');
  assert.equal(s.reconnectAttempts(), 0);
  const restored = sent(s);
  const resubscribe = restored.filter((f) => f.type === 'presence_subscribe');
  assert.equal(resubscribe.length, 1);
  assert.equal(resubscribe[0].replace, true);
  assert.deepEqual([...resubscribe[0].userIds].sort(), ['bob', 'carol']);
  s.delete();
});

test('disconnected => status changes collapse => auth carries the latest status', () => {
  const s = connect(newSession(), T0);
  s.handleSocketClose(1006, T0 + 10);
  assert.equal(s.setStatus('away', T0 + 20), true);
  assert.equal(s.setStatus('offline', T0 + 30), true);
  assert.equal(s.setStatus('away', T0 + 40), true);
  assert.deepEqual(s.pollTransmits(), [], 'nothing is sent while disconnected');
  assert.equal(s.status(), 'away');

  const at = s.nextDeadline();
  s.handleTimeout(at);
  assert.equal(s.pollAction(), 'open');
  s.handleSocketOpen(at + 1);
  const frames = sent(s);
  assert.equal(frames.length, 1);
  assert.equal(frames[0].type, 'auth');
  assert.equal(frames[0].status, 'away');
  s.delete();
});

test('connected => status and typing => activity clears itself after 3 s', () => {
  const s = connect(newSession(), T0);
  assert.equal(s.setStatus('away', T0 + 1), true);
  assert.deepEqual(sent(s), [{ type: 'presence', status: 'away' }]);

  assert.equal(s.startTyping('conv-1', T0 + 2), true);
  const [typing] = sent(s);
  assert.equal(typing.type, 'activity');
  assert.deepEqual(typing.activity, { type: 'typing', conversationId: 'conv-1' });
  assert.equal(s.nextDeadline(), T0 + 2 + 3000);

  s.handleTimeout(T0 + 2 + 3000);
  const [cleared] = sent(s);
  assert.equal(cleared.type, 'activity');
  assert.deepEqual(cleared.activity, { type: 'idle' });

  assert.equal(s.setActivity('viewing', '/inbox', T0 + 4000), true);
  assert.deepEqual(sent(s)[0].activity, { type: 'viewing', page: '/inbox' });
  assert.equal(s.setActivity('idle', undefined, T0 + 4001), true);
  assert.deepEqual(sent(s)[0].activity, { type: 'idle' });
  s.delete();
});

test('connected => quiet for heartbeatMs => heartbeat sent', () => {
  const s = newSession();
  s.start(T0);
  s.pollAction();
  s.handleSocketOpen(T0);
  sent(s);
  s.handleMessage(welcome({ heartbeatMs: 1000 }), T0);
  assert.equal(s.heartbeatMs(), 1000);
  assert.equal(s.nextDeadline(), T0 + 1000);
  s.handleTimeout(T0 + 999);
  assert.deepEqual(sent(s), []);
  s.handleTimeout(T0 + 1000);
  assert.deepEqual(sent(s), [{ type: 'heartbeat' }]);
  s.delete();
});

test('subscribed => unsubscribe => view reported removed', () => {
  const s = connect(newSession(), T0);
  s.subscribe(['bob', 'carol'], T0);
  sent(s);
  s.handleMessage(JSON.stringify({
    type: 'presence_bulk', updates: [{ userId: 'bob', status: 'away' }, { userId: 'carol' }],
  }), T0);
  assert.equal(changes(s).changed.length, 2);

  assert.equal(s.unsubscribe(['carol'], T0 + 1), true);
  assert.deepEqual(sent(s), [{ type: 'presence_unsubscribe', userIds: ['carol'] }]);
  assert.deepEqual(changes(s), { changed: [], removed: ['carol'] });
  assert.equal(s.getViewJson('carol'), '');

  assert.equal(s.replaceSubscriptions(['dave'], T0 + 2), true);
  const [replace] = sent(s);
  assert.deepEqual(replace, { type: 'presence_subscribe', userIds: ['dave'], replace: true });
  assert.deepEqual(changes(s), { changed: [], removed: ['bob'] });
  s.delete();
});

test('pollChanges => frozen Views; a View back to the one before is that same object; never another user\'s', () => {
  const s = connect(newSession(), T0);
  s.subscribe(['bob', 'carol'], T0);
  sent(s);
  const bulk = (...updates) => s.handleMessage(JSON.stringify({ type: 'presence_bulk', updates }), T0);
  const viewOf = (id) => s.pollChanges().changed.find((v) => v.userId === id);

  bulk({ userId: 'bob', status: 'online', device: 'web' }, { userId: 'carol', status: 'online', device: 'web' });
  const { changed } = s.pollChanges();
  const [bobOnline, carolOnline] = changed;
  assert.deepEqual(changed, [
    { userId: 'bob', status: 'online', device: 'web' },
    { userId: 'carol', status: 'online', device: 'web' },
  ]);
  assert.ok(Object.isFrozen(bobOnline) && Object.isFrozen(carolOnline));
  assert.notEqual(bobOnline, carolOnline, 'the same fields of two users are two objects');

  bulk({ userId: 'bob', status: 'away', device: 'web' });
  const bobAway = viewOf('bob');
  assert.deepEqual(bobAway, { userId: 'bob', status: 'away', device: 'web' });
  assert.ok(Object.isFrozen(bobAway));
  // Back and forth: the two objects again, no new one per change.
  bulk({ userId: 'bob', status: 'online', device: 'web' });
  assert.equal(viewOf('bob'), bobOnline);
  bulk({ userId: 'bob', status: 'away', device: 'web' });
  assert.equal(viewOf('bob'), bobAway);

  // A third View pushes the first out: online is a new object now.
  bulk({ userId: 'bob', status: 'offline', lastSeen: T0 - 5000, device: 'web' });
  const bobOffline = viewOf('bob');
  assert.deepEqual(bobOffline, { userId: 'bob', status: 'offline', lastSeen: T0 - 5000, device: 'web' });
  bulk({ userId: 'bob', status: 'online', device: 'web' });
  const bobOnlineAgain = viewOf('bob');
  assert.notEqual(bobOnlineAgain, bobOnline);
  assert.deepEqual(bobOnlineAgain, bobOnline);
  // Another last seen is another View.
  bulk({ userId: 'bob', status: 'offline', lastSeen: T0 - 4000, device: 'web' });
  const bobLater = viewOf('bob');
  assert.notEqual(bobLater, bobOffline);
  assert.equal(bobLater.lastSeen, T0 - 4000);

  // A View with an activity is fresh and frozen, activity and all.
  bulk({ userId: 'carol', status: 'online', device: 'web', activity: { type: 'typing', conversationId: 'c1' } });
  const typing = viewOf('carol');
  assert.ok(Object.isFrozen(typing) && Object.isFrozen(typing.activity));
  bulk({ userId: 'carol', status: 'online', device: 'web' });
  assert.equal(viewOf('carol'), carolOnline);

  // carol's key goes to dave: dave never gets one of carol's objects.
  s.unsubscribe(['carol'], T0);
  assert.deepEqual(s.pollChanges(), { changed: [], removed: ['carol'] });
  s.subscribe(['dave'], T0);
  sent(s);
  bulk({ userId: 'dave', status: 'online', device: 'web' });
  const dave = viewOf('dave');
  assert.deepEqual(dave, { userId: 'dave', status: 'online', device: 'web' });
  assert.notEqual(dave, carolOnline);
  s.delete();
});

test('server error frame => lastErrorJson; 4409 close => idle, no reconnect', () => {
  const s = connect(newSession(), T0);
  const error = { type: 'error', code: 'rate_limited', message: 'slow down' };
  assert.equal(s.handleMessage(JSON.stringify(error), T0 + 1), '');
  assert.deepEqual(JSON.parse(s.lastErrorJson()), { code: 'rate_limited', message: 'slow down' });

  s.handleSocketClose(4409, T0 + 2);
  assert.equal(s.state(), 'idle');
  assert.equal(s.nextDeadline(), -1);
  assert.equal(s.pollAction(), '');
  s.delete();
});

test('network offline => reconnect paused => online => open at once', () => {
  const s = connect(newSession(), T0);
  s.handleSocketClose(1006, T0 + 1);
  s.handleNetwork(false, T0 + 2);
  assert.equal(s.state(), 'offline');
  assert.equal(s.nextDeadline(), -1);
  s.handleNetwork(true, T0 + 60000);
  assert.equal(s.pollAction(), 'open');
  assert.equal(s.state(), 'connecting');

  s.stop(T0 + 60001);
  assert.equal(s.pollAction(), 'close:1000');
  assert.equal(s.state(), 'idle');
  s.delete();
});

test('page hidden => away; focus => online; idle => away; input => online; bfcache => offline', () => {
  const s = newSession({ seed: 7, idleMs: 60000 });
  s.handlePageVisibility(false, T0);
  s.setToken('t');
  s.start(T0);
  assert.equal(s.pollAction(), 'open');
  s.handleSocketOpen(T0);
  assert.equal(sent(s)[0].status, 'away', 'a page opened hidden auths away');
  assert.equal(s.handleMessage(welcome(), T0), '');
  assert.deepEqual(sent(s), []);

  s.handlePageFocus(true, T0 + 10);
  assert.deepEqual(sent(s), [{ type: 'presence', status: 'online' }]);
  assert.equal(s.status(), 'online');
  s.handleUserInput(T0 + 1000);
  assert.deepEqual(sent(s), []);
  // One timer at the next deadline: heartbeats come due first, then idleness.
  let now = T0 + 1000;
  const frames = [];
  while (s.status() === 'online') {
    now = s.nextDeadline();
    s.handleTimeout(now);
    frames.push(...sent(s));
  }
  assert.equal(now, T0 + 1000 + 60000);
  assert.deepEqual(frames.at(-1), { type: 'presence', status: 'away' });
  assert.equal(s.chosenStatus(), 'online');
  s.handleUserInput(now + 5);
  assert.deepEqual(sent(s), [{ type: 'presence', status: 'online' }]);

  s.handlePageHide(false, now + 6);  // unload: the socket's close says it
  s.handlePageVisibility(false, now + 6);  // ...and the hiding after it is no away
  assert.deepEqual(sent(s), []);
  s.handlePageShow(false, now + 7);
  s.handlePageHide(true, now + 7);
  assert.deepEqual(sent(s), [{ type: 'presence', status: 'offline' }]);
  s.handlePageShow(true, now + 8);
  assert.deepEqual(sent(s), [{ type: 'presence', status: 'online' }]);
  s.delete();
});

test('config => idleMs 0 turns idleness off; a negative or fractional idleMs => null', () => {
  const off = newSession({ seed: 1, idleMs: 0 });
  off.handleUserInput(T0);
  assert.equal(off.nextDeadline(), -1);
  off.delete();
  for (const idleMs of [-1, 1.5, '1000', null]) {
    assert.equal(core.ClientSession.create(JSON.stringify({ idleMs })), null, `idleMs ${idleMs}`);
  }
});

test('config => device and backoff from JSON; bad configs => null', () => {
  const s = newSession({ device: 'desktop', seed: 1, backoffBaseMs: 100, backoffCapMs: 100 });
  s.start(T0);
  s.pollAction();
  s.handleSocketOpen(T0);
  assert.equal(sent(s)[0].device, 'desktop');
  s.handleSocketClose(1006, T0 + 1);
  assert.ok(s.nextDeadline() <= T0 + 1 + 100);
  s.delete();

  const defaults = core.ClientSession.create('{}');
  assert.ok(defaults, 'every field is optional');
  defaults.delete();

  for (const bad of ['', 'nope', '[]', '{"device":"fridge"}', '{"seed":-1}',
    '{"seed":"1"}', '{"heartbeatMs":0}', '{"authTimeoutMs":1.5}', '{"backoffBaseMs":null}']) {
    assert.equal(core.ClientSession.create(bad), null, bad);
  }
  assert.equal(core.ClientSession.create(42), null);
  assert.equal(core.ClientSession.create(undefined), null);
});

test('wrong JS types => false or "" results, never a throw', () => {
  const s = connect(newSession(), T0);
  assert.equal(s.setStatus('sleeping', T0), false);
  assert.equal(s.setStatus(1, T0), false);
  assert.equal(s.setToken(null), false);
  assert.equal(s.setActivity('dancing', 'x', T0), false);
  assert.equal(s.setActivity('viewing', 5, T0), false);
  assert.equal(s.startTyping('not an id!', T0), false);
  assert.equal(s.subscribe('bob', T0), false);
  assert.equal(s.subscribe(['bob', 7], T0), false);
  assert.equal(s.subscribe(['bad id'], T0), false);
  assert.equal(s.subscribe({ length: 3 }, T0), false);
  assert.equal(s.unsubscribe(undefined, T0), false);
  assert.equal(s.replaceSubscriptions(null, T0), false);
  assert.notEqual(s.handleMessage(42, T0), '');
  assert.notEqual(s.handleMessage({ type: 'welcome' }, T0), '');
  assert.equal(s.getViewJson(7), '');
  assert.deepEqual(s.pollTransmits(), [], 'no bad input reached the wire');

  // Non-numeric times are defined (NaN is 0), not undefined behaviour.
  s.handleTimeout(NaN);
  s.handleTimeout(Infinity);
  s.handleTimeout(-Infinity);
  s.handleSocketClose(NaN, T0);
  assert.equal(s.state(), 'reconnecting');
  s.delete();
});

test('a reloaded page => created with resumeSession => its first auth resumes that session', () => {
  const s = newSession({ seed: 3, resumeSession: 'kept-by-last-page' });
  s.setToken('token-1');
  s.start(T0);
  assert.equal(s.pollAction(), 'open');
  s.handleSocketOpen(T0);
  const [auth] = sent(s);
  assert.equal(auth.type, 'auth');
  assert.equal(auth.session, 'kept-by-last-page');
  s.delete();
  // An id the protocol would refuse is refused here, not sent.
  assert.equal(core.ClientSession.create(JSON.stringify({ resumeSession: 'bad id' })), null);
  assert.equal(core.ClientSession.create(JSON.stringify({ resumeSession: 42 })), null);
});
