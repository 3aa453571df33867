// DOM wiring: fake document/window EventTargets, a hand-driven clock, and the
// real WASM core deciding what the events mean (the rule lives in core; these
// tests prove the events reach it and its decisions reach the socket).
import test from 'node:test';
import assert from 'node:assert/strict';
import { trackBrowser } from '../src/browser.js';
import { createPresenceClient } from '../src/index.js';
import { loadTestCore } from './helpers.mjs';

const core = await loadTestCore();

function fakePage({ hidden = false, focused = true } = {}) {
  const doc = new EventTarget();
  doc.visibilityState = hidden ? 'hidden' : 'visible';
  doc.hasFocus = () => focused && !hidden;
  const win = new EventTarget();
  const fire = (target, type, props = {}) => target.dispatchEvent(Object.assign(new Event(type), props));
  return { doc, win, fire };
}

// A fake socket that records what the client sends and answers the auth.
function fakeSocketClass(sent) {
  return class FakeSocket {
    constructor() {
      this.readyState = 0;
      queueMicrotask(() => {
        this.readyState = 1;
        this.onopen?.();
      });
    }
    send(text) {
      const frame = JSON.parse(text);
      sent.push(frame);
      if (frame.type === 'auth') {
        queueMicrotask(() =>
          this.onmessage?.({
            data: JSON.stringify({ type: 'welcome', userId: 'u', session: 's1', heartbeatMs: 1e9, serverTime: 0 }),
          }),
        );
      }
    }
    close() {
      this.readyState = 3;
    }
  };
}

function clockAndTimers() {
  let t = 1_000_000;
  const timers = new Map();
  let nextId = 1;
  return {
    armed: 0,
    now: () => t,
    setTimeout(fn, ms) {
      this.armed++;
      const id = nextId++;
      timers.set(id, { fn, at: t + ms });
      return id;
    },
    clearTimeout: (id) => timers.delete(id),
    timers,
    advance(ms) {
      const end = t + ms;
      for (;;) {
        const due = [...timers].filter(([, x]) => x.at <= end).sort((a, b) => a[1].at - b[1].at)[0];
        if (!due) break;
        t = due[1].at;
        timers.delete(due[0]);
        due[1].fn();
      }
      t = end;
    },
  };
}

async function clientOnFakePage(pageOptions, idleMs = 60_000) {
  const page = fakePage(pageOptions);
  const clock = clockAndTimers();
  const sent = [];
  const client = createPresenceClient({
    url: 'ws://127.0.0.1:1/ws',
    token: 't',
    core,
    idleMs,
    config: { seed: 1 },
    document: page.doc,
    window: page.win,
    WebSocket: fakeSocketClass(sent),
    now: clock.now,
    setTimeout: (fn, ms) => clock.setTimeout(fn, ms),
    clearTimeout: clock.clearTimeout,
    sessionStorage: null,
  });
  await client.ready;
  await new Promise((ok) => setTimeout(ok, 5)); // open, auth, welcome
  assert.equal(client.connectionState, 'connected');
  const statuses = () => sent.filter((f) => f.type === 'presence').map((f) => f.status);
  return { ...page, clock, sent, client, statuses };
}

test('trackBrowser forwards each DOM event to one page input and reports the page at once', () => {
  const { doc, win, fire } = fakePage();
  const calls = [];
  let t = 0;
  const page = {
    visibility: (v) => calls.push(`visible:${v}`),
    focus: (f) => calls.push(`focus:${f}`),
    input: () => calls.push('input'),
    pageHide: (p) => calls.push(`hide:${p}`),
    pageShow: (p) => calls.push(`show:${p}`),
    network: (o) => calls.push(`net:${o}`),
  };
  const detach = trackBrowser(page, { document: doc, window: win, now: () => t });
  assert.deepEqual(calls.splice(0), ['visible:true']);
  fire(win, 'blur');
  fire(win, 'focus');
  doc.visibilityState = 'hidden';
  fire(doc, 'visibilitychange');
  fire(win, 'pagehide', { persisted: false });
  fire(win, 'pageshow', { persisted: true });
  fire(win, 'offline');
  fire(win, 'online');
  assert.deepEqual(calls.splice(0), [
    'focus:false', 'focus:true', 'visible:false', 'hide:false', 'show:true', 'net:false', 'net:true',
  ]);
  // Mouse moves cross into the core at most once a second.
  fire(win, 'pointermove');
  t += 400;
  fire(win, 'pointermove');
  t += 700;
  fire(win, 'keydown');
  assert.deepEqual(calls.splice(0), ['input', 'input']);
  detach();
  fire(win, 'blur');
  fire(win, 'keydown');
  assert.deepEqual(calls, []);
});

test('a page opened hidden auths away; a page opened blurred auths away', async () => {
  for (const options of [{ hidden: true }, { focused: false }]) {
    const s = await clientOnFakePage(options);
    assert.equal(s.sent[0].type, 'auth');
    assert.equal(s.sent[0].status, 'away', JSON.stringify(options));
    assert.deepEqual(s.statuses(), []);
    s.client.close();
  }
});

test('hidden tab => away, visible => online (decided by the core)', async () => {
  const s = await clientOnFakePage();
  s.doc.visibilityState = 'hidden';
  s.fire(s.doc, 'visibilitychange');
  assert.equal(s.client.status, 'away');
  s.doc.visibilityState = 'visible';
  s.fire(s.doc, 'visibilitychange');
  assert.deepEqual(s.statuses(), ['away', 'online']);
  s.client.close();
});

test('blur => away, focus => online', async () => {
  const s = await clientOnFakePage();
  s.fire(s.win, 'blur');
  s.fire(s.win, 'focus');
  assert.deepEqual(s.statuses(), ['away', 'online']);
  s.client.close();
});

test('no input for idleMs => away; input => online; mouse moves do not churn the timer', async () => {
  const s = await clientOnFakePage({}, 10_000);
  const armedBefore = s.clock.armed;
  for (let i = 0; i < 60; i++) {
    s.clock.advance(100);
    s.fire(s.win, 'pointermove');
  }
  assert.deepEqual(s.statuses(), []);
  assert.ok(s.clock.timers.size <= 1, `${s.clock.timers.size} timers`);
  // 60 moves over 6 s: input reaches the core 6 times, and the timer is
  // re-armed only when the early one fires (never per event).
  assert.ok(s.clock.armed - armedBefore <= 2, `${s.clock.armed - armedBefore} timers armed`);
  s.clock.advance(10_000);
  assert.deepEqual(s.statuses(), ['away']);
  s.fire(s.win, 'keydown');
  assert.deepEqual(s.statuses(), ['away', 'online']);
  s.client.close();
});

test('pagehide on unload sends nothing (the leave grace decides); into the bfcache => offline; back => online', async () => {
  const s = await clientOnFakePage();
  s.fire(s.win, 'pagehide', { persisted: false });
  assert.deepEqual(s.statuses(), []);
  s.fire(s.win, 'pagehide', { persisted: true });
  s.fire(s.win, 'pageshow', { persisted: true });
  assert.deepEqual(s.statuses(), ['offline', 'online']);
  s.client.close();
});

test('close() removes every listener', async () => {
  const s = await clientOnFakePage();
  s.client.close();
  const before = s.sent.length;
  s.fire(s.win, 'blur');
  s.fire(s.win, 'keydown');
  assert.equal(s.sent.length, before);
});

test('without a document it does nothing (SSR)', () => {
  assert.equal(typeof document, 'undefined');
  const detach = trackBrowser({
    visibility() {
      throw new Error('no');
    },
  });
  detach();
});
