// The HTTP surface: settings, contacts, health, metrics, dev tokens, static
// files and the WebSocket Origin check.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import {
  SECRET, assertView, closeAll, connect, http, makeToken, metricValue, openSocket, rawHttp, startServer, uid,
} from './harness.mjs';

const DEFAULTS = { showOnlineStatus: 'everyone', showLastSeen: 'contacts', showActivity: 'contacts' };

// The static root lives inside a parent that also holds a secret file, so
// a traversal that escapes the root by one level would find it.
const parent = fs.mkdtempSync(path.join(os.tmpdir(), 'presence-static-'));
const root = path.join(parent, 'www');
const SECRET_TEXT = 'TOP-SECRET-OUTSIDE-THE-ROOT';
fs.mkdirSync(path.join(root, 'sub'), { recursive: true });
fs.writeFileSync(path.join(parent, 'secret.txt'), SECRET_TEXT);
fs.writeFileSync(path.join(root, 'index.html'), '<!doctype html><title>demo</title>');
fs.writeFileSync(path.join(root, 'app.js'), 'export const x = 1;\n');
fs.writeFileSync(path.join(root, 'style.css'), 'body{}');
fs.writeFileSync(path.join(root, 'core.wasm'), Buffer.from([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]));
fs.writeFileSync(path.join(root, 'data.json'), '{"a":1}');
fs.writeFileSync(path.join(root, 'sub', 'index.html'), '<p>sub</p>');

let server;
before(async () => { server = await startServer({ staticDir: root }); });
after(async () => { await server?.stop(); fs.rmSync(parent, { recursive: true, force: true }); });

describe('settings: GET/PUT /api/settings/presence', () => {
  test('GET of a new user answers the defaults', async () => {
    const res = await http(server, 'GET', '/api/settings/presence', { user: uid('s') });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type'), /application\/json/);
    assert.deepEqual(res.json, DEFAULTS);
  });

  test('PUT of a subset updates only that field and answers the whole resource', async () => {
    const u = uid('s');
    const res = await http(server, 'PUT', '/api/settings/presence', { user: u, body: { showLastSeen: 'nobody' } });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.json, { ...DEFAULTS, showLastSeen: 'nobody' });
    const res2 = await http(server, 'PUT', '/api/settings/presence', { user: u, body: { showActivity: 'everyone', showOnlineStatus: 'contacts' } });
    assert.deepEqual(res2.json, { showOnlineStatus: 'contacts', showLastSeen: 'nobody', showActivity: 'everyone' });
    const get = await http(server, 'GET', '/api/settings/presence', { user: u });
    assert.deepEqual(get.json, res2.json);
    const empty = await http(server, 'PUT', '/api/settings/presence', { user: u, body: {} });
    assert.equal(empty.status, 200);
    assert.deepEqual(empty.json, res2.json, 'an empty PUT changes nothing');
  });

  test('settings are per user', async () => {
    const a = uid('s');
    const b = uid('s');
    await http(server, 'PUT', '/api/settings/presence', { user: a, body: { showOnlineStatus: 'nobody' } });
    const res = await http(server, 'GET', '/api/settings/presence', { user: b });
    assert.deepEqual(res.json, DEFAULTS);
  });

  test('bad values or bodies get 400 {error} and nothing is written', async () => {
    const u = uid('s');
    await http(server, 'PUT', '/api/settings/presence', { user: u, body: { showLastSeen: 'everyone' } });
    const before = (await http(server, 'GET', '/api/settings/presence', { user: u })).json;
    const bad = [
      { body: { showLastSeen: 'friends' } },
      { body: { showLastSeen: 'Everyone' } },
      { body: { showLastSeen: null } },
      { body: { showLastSeen: 1 } },
      { body: { showOnlineStatus: 'nobody', showActivity: 'bogus' } },  // half valid: nothing written
      { body: ['showLastSeen', 'nobody'] },
      { body: 'nobody' },
      { rawBody: '{"showLastSeen":' },
      { rawBody: 'not json' },
      { rawBody: '' },
    ];
    for (const b of bad) {
      const res = await http(server, 'PUT', '/api/settings/presence', { user: u, ...b });
      assert.equal(res.status, 400, `${JSON.stringify(b)} -> ${res.status} ${res.text}`);
      assert.equal(typeof res.json?.error, 'string', `{error} body for ${JSON.stringify(b)}: ${res.text}`);
    }
    const after = (await http(server, 'GET', '/api/settings/presence', { user: u })).json;
    assert.deepEqual(after, before, 'nothing half written');
  });

  test('401 without a token or with a bad one', async () => {
    const u = uid('s');
    const tokens = [
      undefined,
      makeToken(u, { secret: `${SECRET}!` }),
      makeToken(u, { expSeconds: -5 }),
      makeToken(u, { alg: 'none' }),
      makeToken(u, { alg: 'HS512' }),
      'garbage',
    ];
    for (const token of tokens) {
      for (const method of ['GET', 'PUT']) {
        const opts = { token, body: method === 'PUT' ? { showOnlineStatus: 'nobody' } : undefined };
        const res = await http(server, method, '/api/settings/presence', opts);
        assert.equal(res.status, 401, `${method} with ${token} -> ${res.status}`);
        assert.equal(typeof res.json?.error, 'string');
      }
    }
    const basic = await http(server, 'GET', '/api/settings/presence', { headers: { authorization: `Basic ${Buffer.from('a:b').toString('base64')}` } });
    assert.equal(basic.status, 401);
    const get = await http(server, 'GET', '/api/settings/presence', { user: u });
    assert.deepEqual(get.json, DEFAULTS, 'the refused PUTs wrote nothing');
  });
});

describe('contacts: GET/PUT /api/contacts', () => {
  test('GET of a new user is empty; PUT replaces the list; GET returns it', async () => {
    const u = uid('c');
    const g = await http(server, 'GET', '/api/contacts', { user: u });
    assert.equal(g.status, 200);
    assert.deepEqual(g.json, { contacts: [] });
    const p = await http(server, 'PUT', '/api/contacts', { user: u, body: { contacts: ['bob', 'carol@x.org'] } });
    assert.equal(p.status, 200, p.text);
    assert.deepEqual(p.json.contacts.slice().sort(), ['bob', 'carol@x.org']);
    const p2 = await http(server, 'PUT', '/api/contacts', { user: u, body: { contacts: ['dave'] } });
    assert.deepEqual(p2.json, { contacts: ['dave'] }, 'replaced, not merged');
    const g2 = await http(server, 'GET', '/api/contacts', { user: u });
    assert.deepEqual(g2.json, { contacts: ['dave'] });
    const p3 = await http(server, 'PUT', '/api/contacts', { user: u, body: { contacts: [] } });
    assert.deepEqual(p3.json, { contacts: [] });
  });

  test('bad contacts bodies get 400 and nothing is written', async () => {
    const u = uid('c');
    await http(server, 'PUT', '/api/contacts', { user: u, body: { contacts: ['keep'] } });
    const bad = [
      { body: { contacts: ['ok', 'bad id!'] } },
      { body: { contacts: ['x'.repeat(129)] } },
      { body: { contacts: [''] } },
      { body: { contacts: [5] } },
      { body: { contacts: 'bob' } },
      { body: {} },
      { body: ['bob'] },
      { rawBody: '{"contacts":[' },
    ];
    for (const b of bad) {
      const res = await http(server, 'PUT', '/api/contacts', { user: u, ...b });
      assert.equal(res.status, 400, `${JSON.stringify(b)} -> ${res.status} ${res.text}`);
      assert.equal(typeof res.json?.error, 'string');
    }
    assert.deepEqual((await http(server, 'GET', '/api/contacts', { user: u })).json, { contacts: ['keep'] });
  });

  test('401 without a token or with a bad one', async () => {
    for (const method of ['GET', 'PUT']) {
      const body = method === 'PUT' ? { contacts: ['x'] } : undefined;
      assert.equal((await http(server, method, '/api/contacts', { body })).status, 401);
      assert.equal((await http(server, method, '/api/contacts', { body, token: makeToken('x', { alg: 'none' }) })).status, 401);
    }
  });
});

describe('health, metrics, dev token', () => {
  test('GET /healthz is 200', async () => {
    const res = await http(server, 'GET', '/healthz');
    assert.equal(res.status, 200);
  });

  test('GET /metrics is Prometheus text with the metric families', async () => {
    const u = uid('m');
    const c = await connect(server, u);
    try {
      await c.subscribe([u]);
      const res = await http(server, 'GET', '/metrics');
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type'), /^text\/plain/);
      const families = ['presence_connections', 'presence_ws_sockets', 'presence_sessions', 'presence_users',
        'presence_subscription_edges', 'presence_frames_in_total', 'presence_frames_out_total',
        'presence_bytes_out_total', 'presence_errors_total', 'presence_dead_connections_total',
        'presence_timed_out_sessions_total', 'presence_slow_reader_closes_total', 'presence_http_requests_total'];
      for (const f of families) assert.match(res.text, new RegExp(`^# TYPE ${f} (gauge|counter)$`, 'm'), f);
      for (const line of res.text.split('\n')) {
        if (line === '' || line.startsWith('#')) continue;
        assert.match(line, /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-zA-Z_][a-zA-Z0-9_]*="[^"]*"(,[a-zA-Z_][a-zA-Z0-9_]*="[^"]*")*\})? -?[0-9.e+]+$/, `sample line: ${line}`);
      }
      assert.ok(metricValue(res.text, 'presence_ws_sockets') >= 1);
      assert.ok(metricValue(res.text, 'presence_users', { status: 'online' }) >= 1);
      assert.ok(metricValue(res.text, 'presence_frames_in_total', { type: 'presence_subscribe' }) >= 1);
      assert.ok(!res.text.includes(u), 'no user id in a label');
    } finally { await closeAll([c]); }
  });

  test('POST /api/dev/token is 404 without --dev', async () => {
    const res = await http(server, 'POST', '/api/dev/token', { body: { userId: 'alice' } });
    assert.equal(res.status, 404);
    assert.ok(!res.text.includes('eyJ'), 'no token');
  });

  test('with --dev, POST /api/dev/token issues a token the WebSocket accepts', async () => {
    const dev = await startServer({ dev: true });
    try {
      const res = await http(dev, 'POST', '/api/dev/token', { body: { userId: 'dev-alice' } });
      assert.equal(res.status, 200, res.text);
      const c = await connect(dev, 'dev-alice', { token: res.json.token });
      assert.equal(c.welcome.userId, 'dev-alice');
      await c.close();
      assert.equal((await http(dev, 'POST', '/api/dev/token', { body: { userId: 'bad id!' } })).status, 400);
    } finally { await dev.stop(); }
  });
});

describe('static files (--static)', () => {
  test('files are served with their content types', async () => {
    const cases = [
      ['/', /^text\/html/, '<!doctype html>'],
      ['/index.html', /^text\/html/, '<!doctype html>'],
      ['/app.js', /^(text|application)\/javascript/, 'export const x'],
      ['/style.css', /^text\/css/, 'body{}'],
      ['/data.json', /^application\/json/, '{"a":1}'],
      ['/sub/', /^text\/html/, '<p>sub</p>'],
    ];
    for (const [p, type, body] of cases) {
      const res = await http(server, 'GET', p);
      assert.equal(res.status, 200, p);
      assert.match(res.headers.get('content-type'), type, p);
      assert.ok(res.text.startsWith(body), `${p}: ${res.text}`);
    }
    const wasm = await http(server, 'GET', '/core.wasm');
    assert.equal(wasm.status, 200);
    assert.equal(wasm.headers.get('content-type'), 'application/wasm');
    assert.deepEqual([...wasm.buf], [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]);
    assert.equal((await http(server, 'GET', '/missing.js')).status, 404);
  });

  test('no path traversal: /../, %2e%2e and friends never reach outside the root', async () => {
    const targets = [
      '/../secret.txt', '/%2e%2e/secret.txt', '/%2E%2E/secret.txt', '/..%2fsecret.txt', '/..%2Fsecret.txt',
      '/sub/../../secret.txt', '/sub/%2e%2e/%2e%2e/secret.txt', '/.%2e/secret.txt', '/..\\secret.txt',
      '/..%5csecret.txt', '//../secret.txt', `/${encodeURIComponent(path.join(parent, 'secret.txt'))}`,
      `/%2e%2e%2f${path.basename(parent)}%2fsecret.txt`, '/%252e%252e/secret.txt', '/index.html%00.js',
    ];
    for (const t of targets) {
      const res = await rawHttp(server, t);
      assert.ok(res.status >= 400 && res.status < 500, `${t} -> ${res.status}`);
      assert.ok(!res.text.includes(SECRET_TEXT), `${t} leaked the secret file`);
    }
  });

  test('without --static nothing but the API is served', async () => {
    const bare = await startServer();
    try {
      assert.equal((await http(bare, 'GET', '/index.html')).status, 404);
      assert.equal((await rawHttp(bare, '/../../../../etc/passwd')).status >= 400, true);
    } finally { await bare.stop(); }
  });
});

describe('WebSocket Origin (--allow-origin)', () => {
  let strict;
  before(async () => { strict = await startServer({ allowOrigin: ['https://good.example', 'http://localhost:5173'] }); });
  after(async () => { await strict?.stop(); });

  test('a listed Origin is accepted', async () => {
    for (const origin of ['https://good.example', 'http://localhost:5173']) {
      const c = await connect(strict, uid('o'), { origin });
      assert.equal(c.welcome.type, 'welcome');
      await c.close();
    }
  });

  test('an Origin that is not listed is refused at the handshake', async () => {
    for (const origin of ['https://evil.example', 'https://good.example.evil.com', 'http://good.example', 'null']) {
      await assert.rejects(openSocket(strict, { origin }), (e) => e.statusCode === 403 || /403|refused/.test(e.message), origin);
    }
    const m = await http(strict, 'GET', '/metrics');
    assert.ok(metricValue(m.text, 'presence_ws_origin_rejected_total') >= 4);
  });

  test('without --allow-origin any Origin is accepted', async () => {
    const c = await connect(server, uid('o'), { origin: 'https://anywhere.example' });
    assert.equal(c.welcome.type, 'welcome');
    await c.close();
  });

  test('a refused Origin cannot make a user appear online', async () => {
    const victim = uid('v');
    const w = await connect(strict, uid('w'), { origin: 'https://good.example' });
    try {
      const b = await w.subscribe([victim]);
      assertView(b.updates[0], { userId: victim }, 'never seen');
      await assert.rejects(openSocket(strict, { origin: 'https://evil.example' }));
      await w.expectNoFrame(150);
    } finally { await closeAll([w]); }
  });
});
