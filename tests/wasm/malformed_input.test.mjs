// Hostile bytes through the bindings: every bad frame is refused with a
// reason, none of them kills the module, and a good frame works afterwards.

import assert from 'node:assert/strict';
import { before, test } from 'node:test';

import loadPresenceCore from '../../wasm/presence_core_node.mjs';

let core;
before(async () => {
  core = await loadPresenceCore();
});

const T0 = Date.UTC(2024, 0, 15, 12, 0, 0);
const encoder = new TextEncoder();

// A session waiting for its welcome: the state where every frame is read.
function authenticating() {
  const s = core.ClientSession.create('{"seed":3}');
  s.start(T0);
  assert.equal(s.pollAction(), 'open');
  s.handleSocketOpen(T0);
  s.pollTransmits();
  return s;
}

const WELCOME = JSON.stringify({
  type: 'welcome', userId: 'alice', session: 's-1', heartbeatMs: 30000, serverTime: T0,
});

// The module is alive: a good frame is taken and the session moves on.
function assertGoodFrameWorks(s) {
  assert.equal(s.handleMessage(WELCOME, T0 + 1), '');
  assert.equal(s.state(), 'connected');
  assert.equal(s.sessionId(), 's-1');
  assert.equal(core.parseServerFrame(WELCOME).ok, true);
}

function assertRejected(s, frame, what) {
  const error = s.handleMessage(frame, T0);
  assert.equal(typeof error, 'string', what);
  assert.notEqual(error, '', `${what} was accepted`);
  const parsed = core.parseServerFrame(frame);
  assert.equal(parsed.ok, false, `${what} parsed`);
  assert.equal(typeof parsed.error, 'string');
  assert.equal(s.state(), 'authenticating', `${what} changed the state`);
}

// xorshift32: the same garbage every run.
function random(seed) {
  let x = seed >>> 0;
  return () => {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    return x;
  };
}

test('random garbage, as text and as bytes => refused, module alive', () => {
  const s = authenticating();
  const next = random(0x5eed);
  const alphabet = '{}[]":,\\ 0123456789.eE+-truefalsnl"typewelcome\u0000\u00ff\ud83d\ude00';
  for (let i = 0; i < 2000; ++i) {
    const length = next() % 300;
    const bytes = new Uint8Array(length);
    for (let j = 0; j < length; ++j) bytes[j] = next() & 0xff;
    assertRejected(s, bytes, `bytes #${i}`);
    let text = '';
    for (let j = 0; j < length; ++j) text += alphabet[next() % alphabet.length];
    assertRejected(s, text, `text #${i}`);
  }
  assertGoodFrameWorks(s);
  s.delete();
});

test('100000-deep nesting => refused without recursion blowing the stack', () => {
  const s = authenticating();
  assertRejected(s, '['.repeat(100000) + ']'.repeat(100000), 'deep arrays');
  assertRejected(s, '{"a":'.repeat(100000) + '1' + '}'.repeat(100000), 'deep objects');
  // Under the size limit too, so the depth check itself is exercised.
  assertRejected(s, '['.repeat(30000) + ']'.repeat(30000), 'deep arrays under 64 KiB');
  assertRejected(s,
    '{"type":"presence_bulk","updates":[' + '['.repeat(20000) + ']'.repeat(20000) + ']}',
    'deep value inside a frame');
  assertRejected(s, '['.repeat(100000), 'unclosed nesting');
  assertGoodFrameWorks(s);
  s.delete();
});

test('10001-element userIds array => refused whole; session keeps to 10000', () => {
  const s = authenticating();
  // Base-36 ids keep the frame under 64 KiB, so the count is what fails.
  const userIds = Array.from({ length: 10001 }, (_, i) => i.toString(36));
  const subscribe = JSON.stringify({ type: 'presence_subscribe', userIds });
  assert.ok(subscribe.length < core.MAX_FRAME_BYTES);
  // (The hub's reader refuses it whole: the core's tests, natively and in
  // core_tests_wasm.) The same array handed to the session's client side.
  assertRejected(s, subscribe, 'a client frame sent by the server');

  assertGoodFrameWorks(s);
  assert.equal(s.subscribe(userIds, T0 + 2), false);
  assert.deepEqual(s.pollTransmits(), [], 'a refused subscribe sends nothing');
  assert.equal(s.subscribe(userIds.slice(0, 10000), T0 + 2), true);
  const frames = s.pollTransmits();
  assert.ok(frames.length >= 1);
  let sentIds = 0;
  for (const frame of frames) {
    assert.ok(encoder.encode(frame).length <= core.MAX_FRAME_BYTES);
    const parsed = JSON.parse(frame);
    assert.equal(parsed.type, 'presence_subscribe');
    assert.ok(parsed.userIds.length <= core.MAX_IDS_PER_FRAME);
    sentIds += parsed.userIds.length;
  }
  assert.equal(sentIds, 10000);
  assert.equal(s.subscribe(['one-more'], T0 + 3), false);
  s.delete();
});

test('invalid UTF-8 as bytes => refused', () => {
  const s = authenticating();
  const frame = (inner) => {
    const head = encoder.encode('{"type":"error","code":"bad_request","message":"');
    const tail = encoder.encode('"}');
    return Uint8Array.from([...head, ...inner, ...tail]);
  };
  // A valid frame as bytes goes through, so the bytes path itself works.
  assert.equal(core.parseServerFrame(frame(encoder.encode('caf\u00e9'))).ok, true);
  const invalid = {
    'lone continuation byte': [0x80],
    'truncated sequence': [0xe2, 0x82],
    'overlong slash': [0xc0, 0xaf],
    'UTF-16 surrogate': [0xed, 0xa0, 0x80],
    'past U+10FFFF': [0xf4, 0x90, 0x80, 0x80],
    'byte 0xff': [0xff],
  };
  for (const [what, bytes] of Object.entries(invalid)) {
    assertRejected(s, frame(bytes), what);
    assertRejected(s, frame(bytes).buffer, `${what} (ArrayBuffer)`);
  }
  assertGoodFrameWorks(s);
  s.delete();
});

test('70 KB frames => garbage refused, a subscribe of 70 KB of ids sent in frames under 64 KiB, a real 70 KB bulk read', () => {
  const s = authenticating();
  // 6000 ids of 14 bytes: under the id count limit, over the size limit.
  const userIds = Array.from({ length: 6000 }, (_, i) => `user-${String(i).padStart(9, '0')}`);
  assert.ok(JSON.stringify({ type: 'presence_subscribe', userIds }).length > 70 * 1024);

  assertRejected(s, '{"type":"welcome","pad":"' + 'x'.repeat(70 * 1024), '70 KB unterminated');
  assertRejected(s, '[' + '1,'.repeat(35 * 1024) + '1]', '70 KB array');
  assertRejected(s, new Uint8Array(70 * 1024).fill(0xfe), '70 KB of 0xfe bytes');

  // Server frames may be larger: the answer to one subscribe of many ids is.
  assertGoodFrameWorks(s);
  assert.equal(s.subscribe(userIds, T0 + 2), true);
  const sent = s.pollTransmits();
  assert.ok(sent.length >= 2);
  for (const frame of sent) assert.ok(encoder.encode(frame).length <= core.MAX_FRAME_BYTES);
  assert.equal(sent.reduce((n, frame) => n + JSON.parse(frame).userIds.length, 0), 6000);
  const bulk = JSON.stringify({
    type: 'presence_bulk',
    updates: userIds.map((userId) => ({ userId, status: 'online', device: 'web' })),
  });
  assert.ok(bulk.length > 70 * 1024);
  assert.equal(s.handleMessage(bulk, T0 + 3), '');
  const { changed, removed } = JSON.parse(s.pollChangesJson());
  assert.equal(changed.length, 6000);
  assert.deepEqual(removed, []);
  assert.deepEqual(changed[5999], { userId: userIds[5999], status: 'online', device: 'web' });
  s.delete();
});

test('20000 bad frames in a loop => module alive, a good frame still works', () => {
  const s = authenticating();
  const bad = [
    '', 'null', '[]', '{}', '{"type":"nope"}', '{"type":"welcome"}', '{"type":',
    '{"type":"presence_bulk","updates":[{"userId":"bad id"}]}',
    '{"type":"error","code":"teapot","message":"x"}',
    '{"type":"welcome","userId":"a","session":"s","heartbeatMs":"x","serverTime":1}',
  ];
  let refused = 0;
  for (let i = 0; i < 20000; ++i) {
    if (s.handleMessage(bad[i % bad.length], T0 + i) !== '') ++refused;
  }
  assert.equal(refused, 20000);
  assert.equal(s.state(), 'authenticating');
  assertGoodFrameWorks(s);
  s.delete();
});

test('frames out of turn => ignored without harm', () => {
  const s = core.ClientSession.create('{"seed":4}');
  // A bulk or welcome before any socket: valid frames, nothing to apply.
  assert.equal(s.handleMessage(WELCOME, T0), '');
  assert.equal(s.state(), 'idle');
  assert.equal(s.handleMessage('{"type":"presence_bulk","updates":[{"userId":"bob"}]}', T0), '');
  assert.deepEqual(JSON.parse(s.pollChangesJson()), { changed: [], removed: [] });
  s.delete();
});
