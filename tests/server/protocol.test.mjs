// Protocol v1 on the wire: every frame type, answered as DESIGN.md says.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import {
  FAST, assertNear, assertView, closeAll, connect, http, sleep, startServer, uid,
} from './harness.mjs';

const ID_RE = /^[A-Za-z0-9._@-]{1,128}$/;

let server;
before(async () => { server = await startServer(); });
after(async () => { await server?.stop(); });

async function putContacts(user, contacts) {
  const res = await http(server, 'PUT', '/api/contacts', { user, body: { contacts } });
  assert.equal(res.status, 200, res.text);
}

describe('protocol', () => {
  test('auth -> welcome with userId, session, heartbeatMs and serverTime', async () => {
    const a = uid('welcome');
    const before = Date.now();
    const c1 = await connect(server, a);
    const c2 = await connect(server, a);
    try {
      assert.ok(c1.raw[0].startsWith('{"type":"welcome"'), `type first: ${c1.raw[0]}`);
      assert.deepEqual(Object.keys(c1.welcome).sort(), ['heartbeatMs', 'serverTime', 'session', 'type', 'userId']);
      assert.equal(c1.welcome.userId, a);
      assert.match(c1.welcome.session, ID_RE);
      assert.equal(c1.welcome.heartbeatMs, FAST.heartbeatMs, 'heartbeatMs is --heartbeat-ms');
      assert.ok(Number.isInteger(c1.welcome.serverTime));
      assertNear(c1.welcome.serverTime, (before + Date.now()) / 2, 1000, 'serverTime is the server clock');
      assert.notEqual(c1.welcome.session, c2.welcome.session, 'two tabs get two sessions');
      assert.equal(c1.frames.length, 1, 'nothing but welcome');
    } finally { await closeAll([c1, c2]); }
  });

  test('presence_subscribe to a never-seen user answers {"userId":..} alone', async () => {
    const w = await connect(server, uid('w'));
    const ghost = uid('ghost');
    try {
      const bulk = await w.subscribe([ghost]);
      assert.deepEqual(bulk.updates, [{ userId: ghost }]);
      assert.ok(w.raw.some((r) => r.includes(`{"userId":"${ghost}"}`)), 'bare view on the wire');
      assert.ok(w.raw[w.raw.length - 1].startsWith('{"type":"presence_bulk"'));
    } finally { await closeAll([w]); }
  });

  test('presence: a status change reaches a subscriber as a full View', async () => {
    const t = uid('t');
    const tc = await connect(server, t, { device: 'desktop' });
    const w = await connect(server, uid('w'));
    try {
      const bulk = await w.subscribe([t]);
      assertView(bulk.updates[0], { userId: t, status: 'online', device: 'desktop' }, 'initial');
      let m = w.mark();
      const sent = Date.now();
      tc.send({ type: 'presence', status: 'away' });
      const v = await w.waitForView(t, (x) => x.status === 'away', 2000, m);
      assertView(v, { userId: t, status: 'away', device: 'desktop' }, 'away');
      assert.ok(Date.now() - sent < FAST.flushMs + 400, 'within a flush');
      m = w.mark();
      tc.send({ type: 'presence', status: 'online', timestamp: 1700000000000 });
      assertView(await w.waitForView(t, (x) => x.status === 'online', 2000, m),
        { userId: t, status: 'online', device: 'desktop' }, 'back online');
      assert.equal(tc.frames.length, 1, 'the sender gets nothing back');
    } finally { await closeAll([tc, w]); }
  });

  test('presence offline from a client: offline at once, lastSeen = that moment (timestamp is a hint)', async () => {
    const t = uid('t');
    const wu = uid('w');
    await putContacts(t, [wu]);  // lastSeen is shown to contacts by default
    const tc = await connect(server, t);
    const w = await connect(server, wu);
    try {
      await w.subscribe([t]);
      const m = w.mark();
      const sent = Date.now();
      tc.send({ type: 'presence', status: 'offline', timestamp: 1 });
      const v = await w.waitForView(t, (x) => x.status === 'offline', 2000, m);
      assertView(v, { userId: t, status: 'offline', lastSeen: undefined }, 'offline');
      assertNear(v.lastSeen, sent, 300, 'lastSeen is the server clock at the offline frame');
      const m2 = w.mark();
      tc.send({ type: 'presence', status: 'online' });
      assertView(await w.waitForView(t, (x) => x.status === 'online', 2000, m2),
        { userId: t, status: 'online', device: 'web' }, 'online again: no lastSeen');
    } finally { await closeAll([tc, w]); }
  });

  test('heartbeat: no answer to the sender, no frame to watchers', async () => {
    const t = uid('t');
    const tc = await connect(server, t);
    const w = await connect(server, uid('w'));
    try {
      await w.subscribe([t]);
      const mt = tc.mark();
      const mw = w.mark();
      tc.send({ type: 'heartbeat' });
      tc.send({ type: 'heartbeat', userId: t });
      await Promise.all([tc.expectNoFrame(300, () => true, mt), w.expectNoFrame(300, () => true, mw)]);
      assert.equal(tc.closed, null);
    } finally { await closeAll([tc, w]); }
  });

  test('activity: each type reaches a contact with exactly its fields; idle clears it', async () => {
    const t = uid('t');
    const wu = uid('w');
    await putContacts(t, [wu]);
    const tc = await connect(server, t);
    const w = await connect(server, wu);
    try {
      await w.subscribe([t]);
      const cases = [
        [{ type: 'viewing', page: '/inbox', conversationId: 'ignored' }, { type: 'viewing', page: '/inbox' }],
        [{ type: 'typing', conversationId: 'conv-42' }, { type: 'typing', conversationId: 'conv-42' }],
        [{ type: 'busy', reason: 'In a meeting ☕' }, { type: 'busy', reason: 'In a meeting ☕' }],
      ];
      for (const [sent, shown] of cases) {
        const m = w.mark();
        tc.send({ type: 'activity', activity: sent });
        const v = await w.waitForView(t, (x) => x.activity?.type === sent.type, 2000, m);
        assertView(v, { userId: t, status: 'online', device: 'web', activity: shown }, sent.type);
      }
      const m = w.mark();
      tc.send({ type: 'activity', activity: { type: 'idle' } });
      const v = await w.waitForView(t, () => true, 2000, m);
      assertView(v, { userId: t, status: 'online', device: 'web' }, 'idle clears the activity');
      assert.ok(!w.raw.slice(m).some((r) => r.includes('idle')), 'idle is never shown');
    } finally { await closeAll([tc, w]); }
  });

  test('activity without its required field is bad_request and nothing is applied', async () => {
    const t = uid('t');
    const wu = uid('w');
    await putContacts(t, [wu]);
    const tc = await connect(server, t);
    const w = await connect(server, wu);
    try {
      await w.subscribe([t]);
      const mw = w.mark();
      for (const activity of [{ type: 'viewing' }, { type: 'typing', page: '/x' }, { type: 'busy', reason: 5 }, { type: 'dancing' }]) {
        const m = tc.mark();
        tc.send({ type: 'activity', activity });
        await tc.waitForError('bad_request', 2000, m);
      }
      await w.expectNoFrame(200, () => true, mw);
    } finally { await closeAll([tc, w]); }
  });

  test('presence_subscribe is answered by one presence_bulk with a View for every id, already subscribed ones too', async () => {
    const [a, b, c] = [uid('a'), uid('b'), uid('c')];
    const cs = await Promise.all([a, b, c].map((u) => connect(server, u)));
    const w = await connect(server, uid('w'));
    try {
      const first = await w.subscribe([a, b]);
      assert.deepEqual(first.updates.map((v) => v.userId).sort(), [a, b].sort());
      const m = w.mark();
      const second = await w.subscribe([b, c]);
      assert.deepEqual(second.updates.map((v) => v.userId).sort(), [b, c].sort(), 'b is answered though already subscribed');
      for (const v of second.updates) assertView(v, { userId: v.userId, status: 'online', device: 'web' }, v.userId);
      assert.equal(w.frames.slice(m).filter((f) => f.type === 'presence_bulk').length, 1, 'one frame');
      // Not replace: a is still subscribed.
      const m2 = w.mark();
      cs[0].send({ type: 'presence', status: 'away' });
      await w.waitForView(a, (x) => x.status === 'away', 2000, m2);
    } finally { await closeAll([...cs, w]); }
  });

  test('replace:true makes the list the whole subscription set', async () => {
    const [a, b, c] = [uid('a'), uid('b'), uid('c')];
    const [ac, bc, cc] = await Promise.all([a, b, c].map((u) => connect(server, u)));
    const w = await connect(server, uid('w'));
    try {
      await w.subscribe([a, b]);
      const answer = await w.subscribe([b, c], { replace: true });
      assert.deepEqual(answer.updates.map((v) => v.userId).sort(), [b, c].sort());
      const m = w.mark();
      ac.send({ type: 'presence', status: 'away' });
      cc.send({ type: 'presence', status: 'away' });
      await w.waitForView(c, (x) => x.status === 'away', 2000, m);
      bc.send({ type: 'presence', status: 'away' });
      await w.waitForView(b, (x) => x.status === 'away', 2000, m);
      await sleep(150);
      assert.deepEqual(w.viewsOf(a, m), [], 'a was replaced away');
    } finally { await closeAll([ac, bc, cc, w]); }
  });

  test('presence_unsubscribe stops updates and is not answered', async () => {
    const [a, b] = [uid('a'), uid('b')];
    const [ac, bc] = await Promise.all([a, b].map((u) => connect(server, u)));
    const w = await connect(server, uid('w'));
    try {
      await w.subscribe([a, b]);
      const m = w.mark();
      w.send({ type: 'presence_unsubscribe', userIds: [a, uid('never-subscribed')] });
      await w.expectNoFrame(200, () => true, m);
      ac.send({ type: 'presence', status: 'away' });
      bc.send({ type: 'presence', status: 'away' });
      await w.waitForView(b, (x) => x.status === 'away', 2000, m);
      await sleep(150);
      assert.deepEqual(w.viewsOf(a, m), [], 'no update about an unsubscribed user');
      // Subscribing again answers with the current view.
      const again = await w.subscribe([a]);
      assertView(again.updates[0], { userId: a, status: 'away', device: 'web' }, 'resubscribed');
    } finally { await closeAll([ac, bc, w]); }
  });

  test('a session opened with status away shows away without an online flap', async () => {
    const t = uid('t');
    const w = await connect(server, uid('w'));
    let tc;
    try {
      await w.subscribe([t]);
      const m = w.mark();
      tc = await connect(server, t, { status: 'away', device: 'mobile' });
      const v = await w.waitForView(t, () => true, 2000, m);
      assertView(v, { userId: t, status: 'away', device: 'mobile' }, 'first view');
      await sleep(200);
      assert.deepEqual(w.viewsOf(t, m).map((x) => x.status), ['away'], 'never online');
    } finally { await closeAll([tc, w]); }
  });

  test('a frame whose userId is not the token sub gets forbidden and is ignored', async () => {
    const t = uid('t');
    const tc = await connect(server, t);
    const w = await connect(server, uid('w'));
    try {
      await w.subscribe([t]);
      const mw = w.mark();
      let m = tc.mark();
      tc.send({ type: 'presence', status: 'away', userId: 'mallory' });
      await tc.waitForError('forbidden', 2000, m);
      m = tc.mark();
      tc.send({ type: 'presence_subscribe', userIds: [t], userId: 'mallory' });
      await tc.waitForError('forbidden', 2000, m);
      await sleep(150);
      assert.equal(tc.frames.slice(m).filter((f) => f.type === 'presence_bulk').length, 0, 'subscribe ignored');
      assert.deepEqual(w.viewsOf(t, mw), [], 'status unchanged');
      assert.equal(tc.closed, null, 'connection stays');
      tc.send({ type: 'presence', status: 'away', userId: t });
      await w.waitForView(t, (x) => x.status === 'away', 2000, mw);
    } finally { await closeAll([tc, w]); }
  });

  test('a second auth gets bad_request and the connection stays', async () => {
    const t = uid('t');
    const tc = await connect(server, t);
    try {
      const m = tc.mark();
      tc.send({ type: 'auth', token: 'x', device: 'web' });
      await tc.waitForError('bad_request', 2000, m);
      const bulk = await tc.subscribe([t]);
      assertView(bulk.updates[0], { userId: t, status: 'online', device: 'web' }, 'still usable');
    } finally { await closeAll([tc]); }
  });

  test('malformed JSON and unknown type get bad_request, the connection stays usable', async () => {
    const t = uid('t');
    const tc = await connect(server, t);
    try {
      const bad = ['{not json', '[]', '"presence"', '{"type":"dance"}', '{"status":"away"}',
        '{"type":"presence","status":null}', '{"type":"presence","status":"Online"}',
        '{"type":"presence","status":"away","timestamp":1.5}', '{"type":"presence_subscribe","userIds":"abc"}',
        '{"type":"presence_subscribe","userIds":["a"],"replace":"yes"}', '{"type":"heartbeat"',
        '{"a":[[[[[[[[[[[[1]]]]]]]]]]]]}', '\u00ff\u00fe'];
      for (const frame of bad) {
        const m = tc.mark();
        tc.sendRaw(frame);
        const err = await tc.waitFor((f) => f.type === 'error', 2000, m, `error for ${frame}`);
        assert.equal(err.code, 'bad_request', `for ${frame}: ${JSON.stringify(err)}`);
        assert.equal(typeof err.message, 'string');
      }
      assert.equal(tc.closed, null);
      const bulk = await tc.subscribe([t]);
      assertView(bulk.updates[0], { userId: t, status: 'online', device: 'web' }, 'still usable');
    } finally { await closeAll([tc]); }
  });

  test('a frame with one invalid id is rejected whole', async () => {
    const a = uid('a');
    const ac = await connect(server, a);
    const w = await connect(server, uid('w'));
    try {
      const m = w.mark();
      w.send({ type: 'presence_subscribe', userIds: [a, 'bad id!'] });
      await w.waitForError('bad_request', 2000, m);
      const m2 = w.mark();
      w.send({ type: 'presence_subscribe', userIds: [a, 'x'.repeat(129)] });
      await w.waitForError('bad_request', 2000, m2);
      ac.send({ type: 'presence', status: 'away' });
      await sleep(250);
      assert.deepEqual(w.viewsOf(a, m), [], 'a was not subscribed');
      const answer = await w.subscribe([a, 'x'.repeat(128)]);
      assert.equal(answer.updates.length, 2, '128 bytes is a valid id');
    } finally { await closeAll([ac, w]); }
  });

  test('multi-tab aggregation: any tab online = online; all away = away', async () => {
    const t = uid('t');
    const tab1 = await connect(server, t);
    const tab2 = await connect(server, t);
    const w = await connect(server, uid('w'));
    try {
      const first = await w.subscribe([t]);
      assertView(first.updates[0], { userId: t, status: 'online', device: 'web' }, 'both online');
      let m = w.mark();
      tab1.send({ type: 'presence', status: 'away' });
      await w.expectNoFrame(200, () => true, m);  // one away + one online = online: unchanged
      tab2.send({ type: 'presence', status: 'away' });
      assertView(await w.waitForView(t, () => true, 2000, m), { userId: t, status: 'away', device: 'web' }, 'both away');
      m = w.mark();
      tab1.send({ type: 'presence', status: 'online' });
      assertView(await w.waitForView(t, () => true, 2000, m), { userId: t, status: 'online', device: 'web' }, 'one online');
      m = w.mark();
      await tab1.close();
      const v = await w.waitForView(t, () => true, FAST.leaveGraceMs + 1500, m);
      assertView(v, { userId: t, status: 'away', device: 'web' }, 'the online tab closed: away remains');
      m = w.mark();
      tab2.send({ type: 'presence', status: 'offline' });
      assertView(await w.waitForView(t, () => true, 2000, m), { userId: t, status: 'offline' }, 'last tab offline');
    } finally { await closeAll([tab1, tab2, w]); }
  });

  test('multi-tab aggregation: device is the most recently active winning session', async () => {
    const t = uid('t');
    const web = await connect(server, t, { device: 'web' });
    const w = await connect(server, uid('w'));
    let mobile;
    try {
      await w.subscribe([t]);
      let m = w.mark();
      mobile = await connect(server, t, { device: 'mobile', status: 'away' });
      await w.expectNoFrame(200, () => true, m);  // web online still wins
      mobile.send({ type: 'presence', status: 'online' });
      assertView(await w.waitForView(t, () => true, 2000, m), { userId: t, status: 'online', device: 'mobile' }, 'mobile most recent');
      m = w.mark();
      mobile.send({ type: 'presence', status: 'away' });
      assertView(await w.waitForView(t, () => true, 2000, m), { userId: t, status: 'online', device: 'web' }, 'web is the winner');
    } finally { await closeAll([web, mobile, w]); }
  });

  test('a user always sees themself in full', async () => {
    const t = uid('t');
    await http(server, 'PUT', '/api/settings/presence', {
      user: t, body: { showOnlineStatus: 'nobody', showLastSeen: 'nobody', showActivity: 'nobody' },
    });
    const tc = await connect(server, t, { device: 'desktop' });
    try {
      tc.send({ type: 'activity', activity: { type: 'typing', conversationId: 'c1' } });
      await sleep(50);
      const bulk = await tc.subscribe([t]);
      assertView(bulk.updates[0], {
        userId: t, status: 'online', device: 'desktop', activity: { type: 'typing', conversationId: 'c1' },
      }, 'self');
    } finally { await closeAll([tc]); }
  });
});

describe('coalescing (flushMs 250)', () => {
  let slow;
  before(async () => { slow = await startServer({ flushMs: 250 }); });
  after(async () => { await slow?.stop(); });

  // The leading edge (docs/protocol.md) may send the first flip at once when
  // the server reads it in a turn of its own; the rest collapse at the grid
  // (into two frames if they straddle a grid point on a loaded machine).
  test('ten status flips sent at once reach a subscriber coalesced, ending with the last status', async () => {
    const t = uid('t');
    const tc = await connect(slow, t);
    const w = await connect(slow, uid('w'));
    try {
      await w.subscribe([t]);
      await sleep(300);
      const m = w.mark();
      const flips = ['away', 'online', 'away', 'online', 'away', 'online', 'away', 'online', 'away', 'away'];
      for (const status of flips) tc.send({ type: 'presence', status });
      const v = await w.waitForView(t, () => true, 2000, m);
      assertView(v, { userId: t, status: 'away', device: 'web' }, 'the last status');
      await sleep(700);
      const frames = w.frames.slice(m);
      assert.ok(frames.length <= 3, `a leading frame and at most two grid frames, got ${w.raw.slice(m).join(' | ')}`);
      for (const f of frames) assert.equal(f.updates.length, 1, 'one View for one user');
      assert.equal(frames.at(-1).updates[0].status, 'away', 'the last frame holds the last status');
    } finally { await closeAll([tc, w]); }
  });

  test('flips that end where they began within one window send nothing', async () => {
    const t = uid('t');
    const tc = await connect(slow, t);
    const w = await connect(slow, uid('w'));
    try {
      await w.subscribe([t]);
      await sleep(300);
      const m = w.mark();
      for (let i = 0; i < 10; i++) tc.send({ type: 'presence', status: i % 2 === 0 ? 'away' : 'online' });
      await w.expectNoFrame(800, () => true, m);
    } finally { await closeAll([tc, w]); }
  });
});
