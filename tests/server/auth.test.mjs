// Authentication on the WebSocket: only a good HS256 token gets a welcome.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import {
  Client, SECRET, closeAll, connect, makeToken, openSocket, sleep, startServer, uid,
} from './harness.mjs';

let server;
before(async () => { server = await startServer(); });
after(async () => { await server?.stop(); });

// Sends `auth` (an object or a raw string) as the first frame and expects
// error `code`, then close 4401, and never a welcome.
async function expectRefused(auth, code = 'unauthorized', user = 'refused') {
  const c = new Client(await openSocket(server), user);
  if (typeof auth === 'string') c.sendRaw(auth); else c.send(auth);
  const closed = await c.waitForClose(3000);
  assert.equal(closed.code, 4401, `close code; frames: ${c.raw.join(' | ')}`);
  const errors = c.frames.filter((f) => f?.type === 'error');
  assert.equal(errors.length, 1, `one error frame before the close: ${c.raw.join(' | ')}`);
  assert.equal(errors[0].code, code);
  assert.ok(!c.frames.some((f) => f?.type === 'welcome'), 'no welcome');
  return c;
}

describe('auth', () => {
  test('a good HS256 token gets a welcome for its sub', async () => {
    const u = uid('good');
    const c = await connect(server, u, { token: makeToken(u) });
    assert.equal(c.welcome.userId, u);
    await c.close();
  });

  test('a forged token (wrong secret) -> unauthorized + 4401', async () => {
    await expectRefused({ type: 'auth', token: makeToken(uid('v'), { secret: `${SECRET}x` }), device: 'web' });
  });

  test('an expired token -> unauthorized + 4401', async () => {
    await expectRefused({ type: 'auth', token: makeToken(uid('v'), { expSeconds: -10 }), device: 'web' });
  });

  test('an alg:none token -> unauthorized + 4401', async () => {
    await expectRefused({ type: 'auth', token: makeToken(uid('v'), { alg: 'none' }), device: 'web' });
    // alg:none carrying a valid HS256 signature is still alg:none.
    const u = uid('v');
    const good = makeToken(u).split('.');
    const header = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url');
    await expectRefused({ type: 'auth', token: `${header}.${good[1]}.${good[2]}`, device: 'web' });
  });

  test('an HS512 token signed with the right secret -> unauthorized + 4401', async () => {
    await expectRefused({ type: 'auth', token: makeToken(uid('v'), { alg: 'HS512' }), device: 'web' });
  });

  test('a token with a tampered payload -> unauthorized + 4401', async () => {
    const [h, , s] = makeToken('alice').split('.');
    const p = Buffer.from(JSON.stringify({ sub: 'mallory', exp: Math.floor(Date.now() / 1000) + 3600 })).toString('base64url');
    await expectRefused({ type: 'auth', token: `${h}.${p}.${s}`, device: 'web' });
  });

  test('a token without sub -> unauthorized + 4401', async () => {
    const nowS = Math.floor(Date.now() / 1000);
    const h = Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64url');
    const p = Buffer.from(JSON.stringify({ exp: nowS + 3600 })).toString('base64url');
    const crypto = await import('node:crypto');
    const sig = crypto.createHmac('sha256', SECRET).update(`${h}.${p}`).digest('base64url');
    await expectRefused({ type: 'auth', token: `${h}.${p}.${sig}`, device: 'web' });
  });

  test('a missing, empty or garbage token -> unauthorized + 4401', async () => {
    await expectRefused({ type: 'auth', device: 'web' });
    await expectRefused({ type: 'auth', token: '', device: 'web' });
    await expectRefused({ type: 'auth', token: 'not.a.jwt', device: 'web' });
    await expectRefused({ type: 'auth', token: null, device: 'web' });
  });

  test('an auth frame with a bad device -> unauthorized + 4401', async () => {
    await expectRefused({ type: 'auth', token: makeToken(uid('v')), device: 'toaster' });
  });

  test('a first frame that is not auth -> unauthorized + 4401', async () => {
    await expectRefused({ type: 'heartbeat' });
    await expectRefused({ type: 'presence_subscribe', userIds: ['alice'] });
    await expectRefused('{not json');
  });

  test('an auth whose userId is not the token sub -> forbidden + 4401', async () => {
    await expectRefused({ type: 'auth', token: makeToken(uid('v')), device: 'web', userId: 'mallory' }, 'forbidden');
    const u = uid('ok');
    const c = await connect(server, u, { authExtra: { userId: u } });
    assert.equal(c.welcome.userId, u, 'a matching userId is fine');
    await c.close();
  });

  test('a refused auth leaves no trace: the victim does not come online', async () => {
    const victim = uid('victim');
    const w = await connect(server, uid('w'));
    try {
      await w.subscribe([victim]);
      const m = w.mark();
      await expectRefused({ type: 'auth', token: makeToken(victim, { secret: 'guess' }), device: 'web' });
      await expectRefused({ type: 'auth', token: makeToken(victim, { alg: 'none' }), device: 'web' });
      await w.expectNoFrame(200, () => true, m);
    } finally { await closeAll([w]); }
  });

  test('a token that expires while connected -> closed 4401', async () => {
    const u = uid('exp');
    const exp = Math.floor(Date.now() / 1000) + 2;
    const c = await connect(server, u, { token: makeToken(u, { exp }) });
    const closed = await c.waitForClose(5000);
    assert.equal(closed.code, 4401);
    assert.ok(closed.at >= exp * 1000 - 50, `closed ${exp * 1000 - closed.at} ms before exp`);
    assert.ok(closed.at <= exp * 1000 + 1500, `closed ${closed.at - exp * 1000} ms after exp`);
  });

  test('no auth within 5 s -> 4401', async () => {
    const c = new Client(await openSocket(server), 'silent');
    const opened = Date.now();
    // Heartbeat-less silence that still answers pings: only the auth deadline applies.
    const closed = await c.waitForClose(8000);
    const after = closed.at - opened;
    assert.equal(closed.code, 4401, `frames: ${c.raw.join(' | ')}`);
    assert.ok(after >= 4800, `closed after ${after} ms, before the 5 s deadline`);
    assert.ok(after <= 6500, `closed after ${after} ms`);
    assert.ok(!c.frames.some((f) => f?.type === 'welcome'));
  });

  test('several refused connections do not disturb a good one', async () => {
    const u = uid('steady');
    const c = await connect(server, u);
    try {
      await Promise.all([1, 2, 3].map(() => expectRefused({ type: 'auth', token: 'x.y.z', device: 'web' })));
      await sleep(50);
      const bulk = await c.subscribe([u]);
      assert.equal(bulk.updates[0].status, 'online');
    } finally { await closeAll([c]); }
  });
});
