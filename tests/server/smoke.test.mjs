// Smoke test: the real presence-server binary end to end, kept small (the
// full suite is in the other *.test.mjs files). Health, a dev token, auth ->
// welcome, subscribe -> presence_bulk, a second user's arrival reaching the
// first within a flush, and a clean exit 0 on SIGTERM.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { after, before, test } from 'node:test';

const require = createRequire(new URL('../../web/package.json', import.meta.url));
const WebSocket = require('ws');

const BIN = process.env.PRESENCE_SERVER_BIN;
const FLUSH_MS = 20;

let proc;
let base;
let exited;
let stderr = '';

before(async () => {
  assert.ok(BIN, 'PRESENCE_SERVER_BIN must name the built binary');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'presence-smoke-'));
  proc = spawn(BIN, ['--port', '0', '--db', path.join(dir, 'p.db'),
    '--jwt-secret', 'test', '--dev', '--ping-ms', '500',
    '--flush-ms', String(FLUSH_MS), '--leave-grace-ms', '200'],
  { stdio: ['ignore', 'pipe', 'pipe'] });
  proc.stderr.on('data', (d) => { stderr += d; });
  exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  const first = await new Promise((resolve, reject) => {
    const rl = readline.createInterface({ input: proc.stdout });
    rl.once('line', resolve);
    proc.once('exit', () => reject(new Error(`server exited early:\n${stderr}`)));
  });
  const m = /^listening on (http:\/\/127\.0\.0\.1:(\d+))$/.exec(first);
  assert.ok(m, `unexpected first line: ${first}`);
  assert.notEqual(Number(m[2]), 0);
  base = m[1];
});

after(() => {
  if (proc && proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
});

async function token(userId) {
  const res = await fetch(`${base}/api/dev/token`, {
    method: 'POST', body: JSON.stringify({ userId }),
  });
  assert.equal(res.status, 200);
  const body = await res.json();
  assert.equal(typeof body.token, 'string');
  return body.token;
}

// A socket whose frames can be awaited one by one, in order.
async function connect() {
  const ws = new WebSocket(`${base.replace('http', 'ws')}/ws`);
  const frames = [];
  const waiters = [];
  ws.on('message', (data) => {
    frames.push(JSON.parse(String(data)));
    while (waiters.length && frames.length) waiters.shift()(frames.shift());
  });
  const closed = new Promise((resolve) => ws.on('close', (code) => resolve(code)));
  await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });
  const next = (ms = 2000) => new Promise((resolve, reject) => {
    if (frames.length) { resolve(frames.shift()); return; }
    const timer = setTimeout(() => reject(new Error('no frame in time')), ms);
    waiters.push((f) => { clearTimeout(timer); resolve(f); });
  });
  return { ws, next, closed, send: (f) => ws.send(JSON.stringify(f)) };
}

let alice;

test('GET /healthz answers ok', async () => {
  const res = await fetch(`${base}/healthz`);
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { status: 'ok' });
});

test('auth gets welcome, subscribe gets presence_bulk', async () => {
  alice = await connect();
  alice.send({ type: 'auth', token: await token('alice'), device: 'web' });
  const welcome = await alice.next();
  assert.equal(welcome.type, 'welcome');
  assert.equal(welcome.userId, 'alice');
  assert.equal(typeof welcome.session, 'string');
  assert.ok(Math.abs(welcome.serverTime - Date.now()) < 60_000);

  alice.send({ type: 'presence_subscribe', userIds: ['bob', 'alice'] });
  const bulk = await alice.next();
  assert.equal(bulk.type, 'presence_bulk');
  assert.deepEqual(bulk.updates.map((v) => v.userId), ['bob', 'alice']);
  assert.deepEqual(bulk.updates[0], { userId: 'bob' });  // never seen
  assert.equal(bulk.updates[1].status, 'online');        // self, in full
});

test('a second user coming online reaches the first within a flush', async () => {
  const bob = await connect();
  const t0 = Date.now();
  bob.send({ type: 'auth', token: await token('bob'), device: 'mobile' });
  assert.equal((await bob.next()).type, 'welcome');
  const bulk = await alice.next(FLUSH_MS + 1000);
  assert.equal(bulk.type, 'presence_bulk');
  // Default privacy: status to everyone, device only to who sees status.
  assert.deepEqual(bulk.updates, [{ userId: 'bob', status: 'online', device: 'mobile' }]);
  assert.ok(Date.now() - t0 < 1000);
  bob.ws.close();
});

test('metrics count the traffic', async () => {
  const text = await (await fetch(`${base}/metrics`)).text();
  assert.match(text, /^# TYPE presence_connections gauge$/m);
  assert.match(text, /^presence_frames_in_total\{type="auth"\} 2$/m);
  assert.match(text, /^process_resident_memory_bytes \d+$/m);
});

test('SIGTERM closes sockets with 1001 and exits 0', async () => {
  proc.kill('SIGTERM');
  assert.equal(await alice.closed, 1001);
  assert.deepEqual(await exited, { code: 0, signal: null });
});
