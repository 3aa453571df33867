// DOM wiring with fake document/window EventTargets and a hand-driven clock.
import test from 'node:test';
import assert from 'node:assert/strict';
import { trackBrowser } from '../src/browser.js';

function setup({ hidden = false, idleMs = 1000 } = {}) {
  const doc = new EventTarget();
  doc.visibilityState = hidden ? 'hidden' : 'visible';
  doc.hasFocus = () => !hidden;
  const win = new EventTarget();
  let t = 0;
  const timers = new Map();
  let nextId = 1;
  const calls = [];
  const client = {
    setStatus: (s) => calls.push(s),
    handleNetwork: (online) => calls.push(online ? 'net:online' : 'net:offline'),
  };
  const detach = trackBrowser(client, {
    document: doc,
    window: win,
    idleMs,
    now: () => t,
    setTimeout: (fn, ms) => {
      const id = nextId++;
      timers.set(id, { fn, at: t + ms });
      return id;
    },
    clearTimeout: (id) => timers.delete(id),
  });
  const advance = (ms) => {
    const end = t + ms;
    for (;;) {
      const due = [...timers].filter(([, x]) => x.at <= end).sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      t = due[1].at;
      timers.delete(due[0]);
      due[1].fn();
    }
    t = end;
  };
  const fire = (target, type, props = {}) => target.dispatchEvent(Object.assign(new Event(type), props));
  return { doc, win, calls, detach, advance, fire, timers };
}

test('hidden tab => away, visible => online', () => {
  const s = setup();
  s.doc.visibilityState = 'hidden';
  s.fire(s.doc, 'visibilitychange');
  s.doc.visibilityState = 'visible';
  s.fire(s.doc, 'visibilitychange');
  assert.deepEqual(s.calls, ['away', 'online']);
  s.detach();
});

test('a tab opened hidden starts away', () => {
  const s = setup({ hidden: true });
  assert.deepEqual(s.calls, ['away']);
  s.detach();
});

test('blur => away, focus => online', () => {
  const s = setup();
  s.fire(s.win, 'blur');
  s.fire(s.win, 'focus');
  assert.deepEqual(s.calls, ['away', 'online']);
  s.detach();
});

test('no input for idleMs => away; input => online; one idle timer', () => {
  const s = setup({ idleMs: 1000 });
  s.advance(600);
  s.fire(s.win, 'keydown'); // pushes idleness to t=1600
  assert.equal(s.timers.size, 1);
  s.advance(900); // t=1500
  assert.deepEqual(s.calls, []);
  s.advance(200); // t=1700
  assert.deepEqual(s.calls, ['away']);
  s.fire(s.win, 'pointermove');
  assert.deepEqual(s.calls, ['away', 'online']);
  s.detach();
});

test('pagehide => offline; network events => handleNetwork', () => {
  const s = setup();
  s.fire(s.win, 'offline');
  s.fire(s.win, 'online');
  s.fire(s.win, 'pagehide');
  assert.deepEqual(s.calls, ['net:offline', 'net:online', 'offline']);
  s.detach();
});

test('detach removes every listener and the timer', () => {
  const s = setup();
  s.detach();
  s.fire(s.win, 'blur');
  s.doc.visibilityState = 'hidden';
  s.fire(s.doc, 'visibilitychange');
  s.fire(s.win, 'pagehide');
  assert.deepEqual(s.calls, []);
  assert.equal(s.timers.size, 0);
});

test('without a document it does nothing (SSR)', () => {
  assert.equal(typeof document, 'undefined');
  const detach = trackBrowser({ setStatus() { throw new Error('no'); }, handleNetwork() {} });
  detach();
});
