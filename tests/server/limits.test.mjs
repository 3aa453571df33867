// Limits: frame size, subscription count, rate limit, slow readers.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import {
  assertView, closeAll, connect, metricValue, metrics, sleep, startServer, uid,
} from './harness.mjs';

describe('frame size and subscription limits', () => {
  let server;
  // Long pings: a big subscribe keeps the server busy for a while, and
  // liveness is not what these tests are about.
  before(async () => { server = await startServer({ pingMs: 5000, timeoutMs: 20000 }); });
  after(async () => { await server?.stop(); });

  test('a frame of exactly 64 KiB is accepted; one byte more -> close 1009', async () => {
    const u = uid('big');
    const c = await connect(server, u);
    try {
      const head = '{"type":"heartbeat"';
      const exact = `${head}${' '.repeat(65536 - head.length - 1)}}`;
      assert.equal(Buffer.byteLength(exact), 65536);
      let m = c.mark();
      c.sendRaw(exact);
      await sleep(200);
      assert.deepEqual(c.frames.slice(m), [], 'no error for 65 536 bytes');
      assert.equal(c.closed, null);
      const bulk = await c.subscribe([u]);
      assert.equal(bulk.updates[0].status, 'online');
      m = c.mark();
      c.sendRaw(`${head}${' '.repeat(65537 - head.length - 1)}}`);
      const closed = await c.waitForClose(3000);
      assert.equal(closed.code, 1009);
    } finally { c.terminate(); }
  });

  test('an oversize frame from one client does not disturb others', async () => {
    const a = await connect(server, uid('a'));
    const b = await connect(server, uid('b'));
    try {
      await a.subscribe([b.user]);
      b.sendRaw(`{"type":"presence","status":"away","pad":"${'x'.repeat(70000)}"}`);
      assert.equal((await b.waitForClose(3000)).code, 1009);
      // b's socket is gone (not a clean close from its side): a still works.
      const bulk = await a.subscribe([a.user]);
      assert.equal(bulk.updates[0].status, 'online');
    } finally { await closeAll([a]); b.terminate(); }
  });

  test('10 001 subscriptions -> limit error and nothing of the frame is applied', async () => {
    const w = await connect(server, uid('subs'));
    const p = uid('L');
    const ids = Array.from({ length: 9999 }, (_, i) => `${p}${i}`);
    const chunks = [];
    for (let i = 0; i < ids.length; i += 2500) chunks.push(ids.slice(i, i + 2500));
    const n1 = uid('new1');
    const n2 = uid('new2');
    let n1c;
    try {
      for (const chunk of chunks) {
        const b = await w.subscribe(chunk, { timeoutMs: 10000 });
        assert.equal(b.updates.length, chunk.length);
      }
      // 9 999 + 2 new = 10 001: refused whole (the existing id does not count twice).
      let m = w.mark();
      w.send({ type: 'presence_subscribe', userIds: [ids[0], n1, n2] });
      const err = await w.waitForError('limit', 3000, m);
      assert.equal(typeof err.message, 'string');
      await sleep(150);
      assert.equal(w.frames.slice(m).filter((f) => f.type === 'presence_bulk').length, 0, 'no answer: nothing applied');
      n1c = await connect(server, n1);
      await sleep(200);
      assert.deepEqual(w.viewsOf(n1, m), [], 'n1 was not subscribed');
      // Exactly 10 000 is fine.
      const ok = await w.subscribe([n1]);
      assertView(ok.updates[0], { userId: n1, status: 'online', device: 'web' }, 'the 10 000th');
      m = w.mark();
      w.send({ type: 'presence_subscribe', userIds: [n2] });
      await w.waitForError('limit', 3000, m);
      // replace:true with a small list frees the room again.
      const r = await w.subscribe([n2], { replace: true });
      assert.equal(r.updates.length, 1);
      assert.equal(w.closed, null, 'the connection stays');
    } finally { await closeAll([w, n1c]); }
  });

  test('one frame with 10 001 ids is refused whole (bad_request or limit)', async () => {
    const w = await connect(server, uid('subs1'));
    try {
      const ids = Array.from({ length: 10001 }, (_, i) => i.toString(36).padStart(3, '0'));
      const text = JSON.stringify({ type: 'presence_subscribe', userIds: ids });
      assert.ok(text.length <= 65536, `${text.length} bytes`);
      const m = w.mark();
      w.sendRaw(text);
      const err = await w.waitFor((f) => f.type === 'error', 3000, m);
      assert.ok(['bad_request', 'limit'].includes(err.code), JSON.stringify(err));
      await sleep(150);
      assert.equal(w.frames.slice(m).filter((f) => f.type === 'presence_bulk').length, 0);
      // 10 000 ids in one frame are fine.
      const bulk = await w.subscribe(ids.slice(0, 10000), { timeoutMs: 10000 });
      assert.equal(bulk.updates.length, 10000);
    } finally { await closeAll([w]); }
  });
});

describe('rate limit (--rate-per-sec 5 --rate-burst 5)', () => {
  let server;
  before(async () => { server = await startServer({ ratePerSec: 5, rateBurst: 5, timeoutMs: 20000 }); });
  after(async () => { await server?.stop(); });

  test('frames over the burst get rate_limited and are dropped; the connection stays', async () => {
    const t = uid('burst');
    const c = await connect(server, t);
    const w = await connect(server, uid('w'));
    try {
      await w.subscribe([t]);
      await sleep(1200);  // refill after auth + subscribe
      const m = c.mark();
      const mw = w.mark();
      for (let i = 0; i < 5; i++) c.send({ type: 'heartbeat' });
      for (let i = 0; i < 5; i++) c.send({ type: 'presence', status: 'away' });
      await c.waitForError('rate_limited', 2000, m);
      await sleep(300);
      const limited = c.frames.slice(m).filter((f) => f.type === 'error' && f.code === 'rate_limited').length;
      assert.ok(limited >= 4 && limited <= 5, `${limited} rate_limited errors for 5 frames over the burst`);
      assert.deepEqual(w.viewsOf(t, mw), [], 'the dropped presence frames were not applied');
      assert.equal(c.closed, null);
      await sleep(1200);
      c.send({ type: 'presence', status: 'away' });
      await w.waitForView(t, (v) => v.status === 'away', 2000, mw);
    } finally { await closeAll([c, w]); }
  });

  test('a sustained flood -> rate_limited, then close 1008; others are unaffected', async () => {
    const flood = await connect(server, uid('flood'));
    const calm = await connect(server, uid('calm'));
    try {
      for (let i = 0; i < 200; i++) flood.send({ type: 'heartbeat' });
      const closed = await flood.waitForClose(5000);
      assert.equal(closed.code, 1008);
      const codes = flood.frames.filter((f) => f?.type === 'error').map((f) => f.code);
      assert.ok(codes.length >= 1 && codes.every((c) => c === 'rate_limited'), `errors before the close: ${codes}`);
      const bulk = await calm.subscribe([calm.user]);
      assert.equal(bulk.updates[0].status, 'online');
      const text = await metrics(server);
      assert.ok(metricValue(text, 'presence_errors_total', { code: 'rate_limited' }) >= codes.length);
    } finally { flood.terminate(); await closeAll([calm]); }
  });
});

describe('slow reader (--max-queued-bytes 262144)', () => {
  let server;
  before(async () => {
    // Long pings, so the paused client is caught by its write queue and not
    // first found dead for not answering pings.
    server = await startServer({ maxQueuedBytes: 262144, ratePerSec: 100000, rateBurst: 100000, pingMs: 10000, timeoutMs: 30000 });
  });
  after(async () => { await server?.stop(); });

  test('a client that never reads while big updates pile up is closed 1008; memory stays bounded', async () => {
    const slow = await connect(server, uid('slow'));
    const other = await connect(server, uid('other'));
    const t = uid('t');
    const tc = await connect(server, t);
    try {
      await other.subscribe([t]);
      const before = await metrics(server);
      const closesBefore = metricValue(before, 'presence_slow_reader_closes_total') ?? 0;
      const rssBefore = server.rssKiB();
      slow.ws._socket.pause();  // never reads again (until the end)
      // Each subscribe is answered with a ~60 KB presence_bulk.
      const p = uid('x');
      const ids = Array.from({ length: 2500 }, (_, i) => `${p}-${String(i).padStart(5, '0')}`);
      const frame = JSON.stringify({ type: 'presence_subscribe', userIds: ids, replace: true });
      let pushed = 0;
      for (let i = 0; i < 500 && !slow.closed; i++) {
        slow.sendRaw(frame);
        pushed += frame.length;
        if (i % 50 === 49) await sleep(20);
      }
      // The server must notice and close it; count it in /metrics.
      let closes = closesBefore;
      const deadline = Date.now() + 10000;
      while (Date.now() < deadline) {
        closes = metricValue(await metrics(server), 'presence_slow_reader_closes_total') ?? 0;
        if (closes > closesBefore) break;
        await sleep(100);
      }
      assert.ok(closes > closesBefore, `presence_slow_reader_closes_total did not grow (${closesBefore} -> ${closes}); server log:\n${server.logs.slice(-3000)}`);
      const rssGrowthKiB = server.rssKiB() - rssBefore;
      if (!server.sanitized()) assert.ok(rssGrowthKiB < 24 * 1024, `RSS grew ${rssGrowthKiB} KiB while ~${Math.round(pushed / 1024)} KiB were pushed`);
      // Other connections were served all along.
      const m = other.mark();
      tc.send({ type: 'presence', status: 'away' });
      await other.waitForView(t, (v) => v.status === 'away', 2000, m);
      // Once it reads again, the slow client learns why: 1008.
      slow.ws._socket.resume();
      const closed = await slow.waitForClose(10000);
      assert.equal(closed.code, 1008, `close code seen by the slow reader: ${closed.code}`);
      let gauge;
      for (let i = 0; i < 20; i++) {
        gauge = metricValue(await metrics(server), 'presence_ws_sockets');
        if (gauge === 2) break;
        await sleep(100);
      }
      assert.equal(gauge, 2, 'the slow socket is released: only other and t remain');
    } finally { slow.terminate(); await closeAll([other, tc]); }
  });
});
