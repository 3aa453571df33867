// Frames through the bindings: parseServerFrame returns the codec's
// normalized JSON, so JS sees exactly what the core understood. (Client
// frames are the server's to read: the module does not export that reader,
// see docs/wasm.md.)

import assert from 'node:assert/strict';
import { before, test } from 'node:test';

import loadPresenceCore from '../../wasm/presence_core_node.mjs';

let core;
before(async () => {
  core = await loadPresenceCore();
});

function normalized(result) {
  assert.equal(result.ok, true, result.error);
  return JSON.parse(result.frame);
}

test('server frames => normalized, unknown fields dropped', () => {
  const welcome = {
    type: 'welcome', userId: 'alice', session: 's-1', heartbeatMs: 30000,
    serverTime: 1_700_000_000_123, extra: [1, 2, 3],
  };
  const { extra, ...expected } = welcome;
  assert.ok(extra);
  assert.deepEqual(normalized(core.parseServerFrame(JSON.stringify(welcome))), expected);

  const bulk = {
    type: 'presence_bulk',
    updates: [
      { userId: 'bob', status: 'online', device: 'web', activity: { type: 'viewing', page: '/a' } },
      { userId: 'carol', status: 'offline', lastSeen: 1_700_000_000_000 },
      { userId: 'dave' },
    ],
  };
  assert.deepEqual(normalized(core.parseServerFrame(JSON.stringify(bulk))), bulk);

  const error = { type: 'error', code: 'limit', message: 'too many' };
  assert.deepEqual(normalized(core.parseServerFrame(JSON.stringify(error))), error);
});

test('client frames => not server frames; the server-only API is not exported', () => {
  const auth = { type: 'auth', token: 'jwt', device: 'mobile', session: 's-1', status: 'away' };
  assert.equal(core.parseServerFrame(JSON.stringify(auth)).ok, false, 'auth is not a server frame');
  assert.equal(core.parseServerFrame('{"type":"heartbeat"}').ok, false);
  for (const name of ['parseClientFrame', 'projectView', 'classifyViewer']) assert.equal(core[name], undefined, name);
});

test('bad frames => {ok:false, error}', () => {
  for (const bad of ['', 'x', '{"type":"welcome"}', '{"type":"presence_bulk","updates":{}}']) {
    const result = core.parseServerFrame(bad);
    assert.equal(result.ok, false, bad);
    assert.ok(result.error.length > 0);
    assert.equal(result.frame, undefined);
  }
  assert.deepEqual({ ...core.parseServerFrame(null) }, { ok: false, error: 'not a string or bytes' });
  assert.equal(core.parseServerFrame(12).ok, false);
});

test('limits => exported as constants', () => {
  assert.equal(core.MAX_FRAME_BYTES, 65536);
  assert.equal(core.MAX_IDS_PER_FRAME, 10000);
  assert.equal(core.MAX_SUBSCRIPTIONS, 10000);
  assert.equal(core.MAX_ID_LENGTH, 128);
  assert.equal(core.MAX_TEXT_LENGTH, 1024);
});
