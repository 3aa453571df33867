// Privacy on the wire: each setting x viewer class (self / contact / other),
// checked on the RAW frames each viewer receives: a hidden field's name (and
// value) never appears in any byte sent to that viewer, and a change of a
// hidden field sends that viewer no frame at all.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import {
  FAST, assertNear, assertView, closeAll, connect, http, sleep, startServer, uid,
} from './harness.mjs';

let server;
before(async () => { server = await startServer({ activityTtlMs: 10000 }); });
after(async () => { await server?.stop(); });

async function putSettings(user, body) {
  const res = await http(server, 'PUT', '/api/settings/presence', { user, body });
  assert.equal(res.status, 200, res.text);
  return res;
}
async function putContacts(user, contacts) {
  const res = await http(server, 'PUT', '/api/contacts', { user, body: { contacts } });
  assert.equal(res.status, 200, res.text);
  return res;
}

const visible = (setting, cls) => cls === 'self' || setting === 'everyone' || (setting === 'contacts' && cls === 'contact');

// What `cls` must see of a user with `settings` in `phase`.
function expected(settings, cls, phase, t, activity) {
  if (!visible(settings.showOnlineStatus, cls)) return { userId: t };
  if (phase === 'offline') {
    const v = { userId: t, status: 'offline' };
    if (visible(settings.showLastSeen, cls)) v.lastSeen = (x) => Number.isInteger(x);
    return v;
  }
  const v = { userId: t, status: phase, device: 'mobile' };
  if (visible(settings.showActivity, cls)) v.activity = activity;
  return v;
}

const matches = (v, exp) => {
  const keys = Object.keys(v).filter((k) => k !== '_frame').sort();
  if (keys.join() !== Object.keys(exp).sort().join()) return false;
  return Object.entries(exp).every(([k, e]) => (typeof e === 'function' ? e(v[k]) : JSON.stringify(v[k]) === JSON.stringify(e)));
};

const SECRET_CONV = 'conv-SECRETVALUE';
const SECRET_REASON = 'REASON-SECRETVALUE';

// Field names and values that must not reach a viewer that may not see them.
function forbiddenBytes(settings, cls) {
  const out = [];
  const statusVis = visible(settings.showOnlineStatus, cls);
  if (!statusVis) out.push('"status"', '"device"', 'mobile');
  if (!statusVis || !visible(settings.showLastSeen, cls)) out.push('"lastSeen"');
  if (!statusVis || !visible(settings.showActivity, cls)) out.push('"activity"', SECRET_CONV, SECRET_REASON, 'typing', 'busy');
  return out;
}

async function runMatrixCase(field, value) {
  const settings = { showOnlineStatus: 'everyone', showLastSeen: 'everyone', showActivity: 'everyone', [field]: value };
  const t = uid('target');
  const cu = uid('contact');
  const ou = uid('other');
  await putSettings(t, settings);
  await putContacts(t, [cu]);
  // The self viewer is a session of t that says it is offline, so t's
  // status is that of the target session alone.
  const self = await connect(server, t);
  self.send({ type: 'presence', status: 'offline' });
  await self.subscribe([t]);
  await self.waitForView(t, (v) => v.status === 'offline', 2000);
  const contact = await connect(server, cu);
  const other = await connect(server, ou);
  const viewers = { self, contact, other };
  let target;
  try {
    for (const c of [contact, other]) await c.subscribe([t]);
    const marks = Object.fromEntries(Object.entries(viewers).map(([k, c]) => [k, c.mark()]));

    // Online, with an activity.
    target = await connect(server, t, { device: 'mobile' });
    const act1 = { type: 'typing', conversationId: SECRET_CONV };
    target.send({ type: 'activity', activity: act1 });
    for (const [cls, c] of Object.entries(viewers)) {
      const exp = expected(settings, cls, 'online', t, act1);
      if (exp.status) await c.waitFor((f) => f.type === 'presence_bulk' && f.updates.some((v) => v.userId === t && matches(v, exp)), 2000, marks[cls], `${cls} online view ${JSON.stringify(exp)}`);
    }
    await sleep(4 * FAST.flushMs + 100);
    for (const [cls, c] of Object.entries(viewers)) {
      const exp = expected(settings, cls, 'online', t, act1);
      if (!exp.status) assert.deepEqual(c.viewsOf(t, marks[cls]), [], `${cls}: status hidden, so no frame at all`);
      assertView(c.latest(t), exp, `${cls} latest online view`);
    }

    // Only the activity changes: viewers who may not see it get nothing.
    for (const k of Object.keys(marks)) marks[k] = viewers[k].mark();
    const act2 = { type: 'busy', reason: SECRET_REASON };
    target.send({ type: 'activity', activity: act2 });
    for (const [cls, c] of Object.entries(viewers)) {
      const exp = expected(settings, cls, 'online', t, act2);
      if (exp.activity) await c.waitFor((f) => f.type === 'presence_bulk' && f.updates.some((v) => v.userId === t && matches(v, exp)), 2000, marks[cls], `${cls} new activity`);
    }
    await sleep(4 * FAST.flushMs + 100);
    for (const [cls, c] of Object.entries(viewers)) {
      const exp = expected(settings, cls, 'online', t, act2);
      if (!exp.activity) assert.deepEqual(c.frames.slice(marks[cls]), [], `${cls}: a hidden field changed: no frame`);
    }

    // Away: only viewers who see the status hear of it.
    for (const k of Object.keys(marks)) marks[k] = viewers[k].mark();
    target.send({ type: 'presence', status: 'away' });
    for (const [cls, c] of Object.entries(viewers)) {
      const exp = expected(settings, cls, 'away', t, act2);
      if (exp.status) await c.waitFor((f) => f.type === 'presence_bulk' && f.updates.some((v) => v.userId === t && matches(v, exp)), 2000, marks[cls], `${cls} away view`);
    }

    // Offline after a clean close and the leave grace.
    for (const k of Object.keys(marks)) marks[k] = viewers[k].mark();
    await target.close();
    const closedAt = target.closeSentAt;
    for (const [cls, c] of Object.entries(viewers)) {
      const exp = expected(settings, cls, 'offline', t);
      if (exp.status) {
        await c.waitFor((f) => f.type === 'presence_bulk' && f.updates.some((v) => v.userId === t && matches(v, exp)), FAST.leaveGraceMs + 2000, marks[cls], `${cls} offline view ${JSON.stringify(exp)}`);
        const v = c.latest(t);
        if (exp.lastSeen) assertNear(v.lastSeen, closedAt, 400, `${cls} lastSeen is the close`);
      }
    }
    await sleep(4 * FAST.flushMs + 100);
    for (const [cls, c] of Object.entries(viewers)) {
      const exp = expected(settings, cls, 'offline', t);
      if (!exp.status) assert.deepEqual(c.viewsOf(t, marks[cls]), [], `${cls}: no frame`);
      assertView(c.latest(t), exp, `${cls} latest offline view`);
      const bad = forbiddenBytes(settings, cls);
      for (const [i, raw] of c.raw.entries()) {
        for (const b of bad) assert.ok(!raw.includes(b), `${field}=${value}: ${cls} received ${b} in frame ${i}: ${raw}`);
      }
    }
  } finally {
    await closeAll([self, contact, other, target]);
  }
}

describe('privacy matrix (setting x viewer class, raw bytes)', () => {
  for (const field of ['showOnlineStatus', 'showLastSeen', 'showActivity']) {
    for (const value of ['everyone', 'contacts', 'nobody']) {
      test(`${field}=${value}: self, contact and other see exactly what they may`, () => runMatrixCase(field, value));
    }
  }
});

describe('privacy rules', () => {
  test('defaults: status to everyone, lastSeen and activity to contacts', async () => {
    const t = uid('target');
    const cu = uid('contact');
    await putContacts(t, [cu]);
    const g = await http(server, 'GET', '/api/settings/presence', { user: t });
    assert.deepEqual(g.json, { showOnlineStatus: 'everyone', showLastSeen: 'contacts', showActivity: 'contacts' });
    const contact = await connect(server, cu);
    const other = await connect(server, uid('other'));
    const target = await connect(server, t);
    try {
      target.send({ type: 'activity', activity: { type: 'viewing', page: '/p' } });
      await sleep(100);
      const [bc, bo] = await Promise.all([contact.subscribe([t]), other.subscribe([t])]);
      assertView(bc.updates[0], { userId: t, status: 'online', device: 'web', activity: { type: 'viewing', page: '/p' } }, 'contact');
      assertView(bo.updates[0], { userId: t, status: 'online', device: 'web' }, 'other');
      const mc = contact.mark();
      const mo = other.mark();
      await target.close();
      assertView(await contact.waitForView(t, (v) => v.status === 'offline', 3000, mc), { userId: t, status: 'offline', lastSeen: undefined }, 'contact offline');
      assertView(await other.waitForView(t, (v) => v.status === 'offline', 3000, mo), { userId: t, status: 'offline' }, 'other offline');
      assert.ok(!other.raw.some((r) => r.includes('"lastSeen"') || r.includes('"activity"')), 'other never got lastSeen or activity');
    } finally { await closeAll([contact, other, target]); }
  });

  test("contacts are the list the TARGET set, not the viewer's", async () => {
    const t = uid('target');
    const ou = uid('fan');
    await putSettings(t, { showOnlineStatus: 'contacts' });
    await putContacts(ou, [t]);  // the fan lists t; t does not list the fan
    const target = await connect(server, t);
    const fan = await connect(server, ou);
    try {
      const b = await fan.subscribe([t]);
      assert.deepEqual(b.updates, [{ userId: t }]);
      // t, who sees the fan by default (everyone), is not affected either way.
      const b2 = await target.subscribe([ou]);
      assertView(b2.updates[0], { userId: ou, status: 'online', device: 'web' }, 'target sees fan');
      assert.ok(!fan.raw.some((r) => r.includes('"status"')));
    } finally { await closeAll([target, fan]); }
  });

  test('a settings PUT reaches viewers within a flush', async () => {
    const t = uid('target');
    const target = await connect(server, t);
    const other = await connect(server, uid('other'));
    try {
      const b = await other.subscribe([t]);
      assertView(b.updates[0], { userId: t, status: 'online', device: 'web' }, 'visible');
      let m = other.mark();
      await putSettings(t, { showOnlineStatus: 'nobody' });
      const putDone = Date.now();
      const hidden = await other.waitForView(t, () => true, 2000, m);
      assert.deepEqual(Object.keys(hidden).filter((k) => k !== '_frame'), ['userId'], 'now hidden');
      assert.ok(Date.now() - putDone <= FAST.flushMs + 300, `arrived ${Date.now() - putDone} ms after the 200`);
      // A change the viewer cannot see sends nothing.
      m = other.mark();
      target.send({ type: 'presence', status: 'away' });
      await other.expectNoFrame(200, () => true, m);
      await putSettings(t, { showOnlineStatus: 'everyone' });
      assertView(await other.waitForView(t, () => true, 2000, m), { userId: t, status: 'away', device: 'web' }, 'visible again');
      // Changing a setting that does not change this viewer's projection sends nothing.
      m = other.mark();
      await putSettings(t, { showLastSeen: 'nobody' });
      await other.expectNoFrame(200, () => true, m);
    } finally { await closeAll([target, other]); }
  });

  test('a settings PUT hiding activity reaches a contact who saw it', async () => {
    const t = uid('target');
    const cu = uid('contact');
    await putContacts(t, [cu]);
    const target = await connect(server, t);
    const contact = await connect(server, cu);
    try {
      target.send({ type: 'activity', activity: { type: 'typing', conversationId: 'c9' } });
      await contact.subscribe([t]);
      await contact.waitForView(t, (v) => v.activity?.type === 'typing');
      const m = contact.mark();
      await putSettings(t, { showActivity: 'nobody' });
      assertView(await contact.waitForView(t, () => true, 2000, m), { userId: t, status: 'online', device: 'web' }, 'activity gone');
    } finally { await closeAll([target, contact]); }
  });

  test('a contacts PUT reaches viewers within a flush', async () => {
    const t = uid('target');
    const ou = uid('viewer');
    await putSettings(t, { showOnlineStatus: 'contacts' });
    const target = await connect(server, t);
    const viewer = await connect(server, ou);
    try {
      const b = await viewer.subscribe([t]);
      assert.deepEqual(b.updates, [{ userId: t }]);
      let m = viewer.mark();
      await putContacts(t, [ou]);
      const putDone = Date.now();
      assertView(await viewer.waitForView(t, () => true, 2000, m), { userId: t, status: 'online', device: 'web' }, 'now a contact');
      assert.ok(Date.now() - putDone <= FAST.flushMs + 300);
      m = viewer.mark();
      await putContacts(t, []);
      const gone = await viewer.waitForView(t, () => true, 2000, m);
      assert.deepEqual(Object.keys(gone).filter((k) => k !== '_frame'), ['userId'], 'no longer a contact');
    } finally { await closeAll([target, viewer]); }
  });

  test('settings and contacts PUTs of an offline (disconnected) user reach viewers too', async () => {
    const t = uid('target');
    const cu = uid('contact');
    await putContacts(t, [cu]);
    const tc = await connect(server, t);
    await tc.close();
    const viewer = await connect(server, cu);
    try {
      await sleep(FAST.leaveGraceMs + 200);
      const b = await viewer.subscribe([t]);
      assertView(b.updates[0], { userId: t, status: 'offline', lastSeen: undefined }, 'contact sees lastSeen');
      let m = viewer.mark();
      await putSettings(t, { showLastSeen: 'nobody' });
      assertView(await viewer.waitForView(t, () => true, 2000, m), { userId: t, status: 'offline' }, 'lastSeen hidden');
      m = viewer.mark();
      await putSettings(t, { showLastSeen: 'contacts', showOnlineStatus: 'contacts' });
      assertView(await viewer.waitForView(t, () => true, 2000, m), { userId: t, status: 'offline', lastSeen: undefined }, 'lastSeen back');
      m = viewer.mark();
      await putContacts(t, []);
      const gone = await viewer.waitForView(t, () => true, 2000, m);
      assert.deepEqual(Object.keys(gone).filter((k) => k !== '_frame'), ['userId'], 'no longer a contact: status hidden');
    } finally { await closeAll([viewer]); }
  });

  test('status nobody: lastSeen and activity never leak, even with showLastSeen/showActivity everyone', async () => {
    const t = uid('target');
    await putSettings(t, { showOnlineStatus: 'nobody', showLastSeen: 'everyone', showActivity: 'everyone' });
    const other = await connect(server, uid('other'));
    let target;
    try {
      await other.subscribe([t]);
      target = await connect(server, t);
      target.send({ type: 'activity', activity: { type: 'viewing', page: '/secret' } });
      target.send({ type: 'presence', status: 'away' });
      await target.close();
      await sleep(FAST.leaveGraceMs + 300);
      assert.equal(other.frames.length, 2, `welcome + answer only: ${other.raw.join(' | ')}`);
      assert.ok(!other.raw.some((r) => /"(status|lastSeen|activity|device)"/.test(r) || r.includes('/secret')));
    } finally { await closeAll([other, target]); }
  });
});
