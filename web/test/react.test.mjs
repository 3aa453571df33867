// React: server rendering needs no window, no client and no WASM.
import test from 'node:test';
import assert from 'node:assert/strict';
import { createElement as h } from 'react';
import { renderToString } from 'react-dom/server';
import {
  PresenceProvider,
  usePresence,
  useBulkPresence,
  useLastSeen,
  useActivity,
  useConnectionState,
  formatLastSeenText,
} from '../src/react/index.js';
import { createPresenceClient } from '../src/index.js';

function Badge({ userId }) {
  const view = usePresence(userId);
  const last = useLastSeen(userId);
  const activity = useActivity(userId);
  const state = useConnectionState();
  return h('span', { 'data-status': view.status }, `${userId}:${view.status}:${last.text}:${activity ? activity.type : '-'}:${state}`);
}

function List({ ids }) {
  const views = useBulkPresence(ids);
  return h('ul', null, [...views.values()].map((v) => h('li', { key: v.userId }, `${v.userId}=${v.status}`)));
}

test('renderToString with usePresence is SSR-safe (no window, no provider)', () => {
  assert.equal(typeof window, 'undefined');
  assert.equal(typeof document, 'undefined');
  const html = renderToString(h('div', null, h(Badge, { userId: 'alice' }), h(List, { ids: ['b', 'a', 'b'] })));
  assert.match(html, /alice:unknown::-:idle/);
  assert.match(html, /<li>a=unknown<\/li><li>b=unknown<\/li>/);
  assert.doesNotMatch(html, /offline/);
});

test('renderToString inside a PresenceProvider with a client (core not loaded, no socket)', () => {
  // A client created on the server: no core and no WebSocket are touched
  // synchronously; the server snapshot is used.
  const client = createPresenceClient({
    url: 'ws://127.0.0.1:1/ws',
    token: 't',
    core: new Promise(() => {}), // never resolves: nothing connects
  });
  const html = renderToString(h(PresenceProvider, { client }, h(Badge, { userId: 'bob' })));
  assert.match(html, /bob:unknown::-:idle/);
  client.close();
});

test('last seen buckets format with Intl.RelativeTimeFormat', () => {
  assert.equal(formatLastSeenText({ bucket: 'minutes', count: 5, epochMs: 0, nextChangeMs: 1 }, 'en'), '5 minutes ago');
  assert.equal(formatLastSeenText({ bucket: 'hours', count: 1, epochMs: 0, nextChangeMs: 1 }, 'en'), '1 hour ago');
  assert.equal(formatLastSeenText({ bucket: 'days', count: 1, epochMs: 0, nextChangeMs: 1 }, 'en'), 'yesterday');
  assert.equal(formatLastSeenText({ bucket: 'just_now', count: 0, epochMs: 0, nextChangeMs: 1 }, 'en'), 'just now');
  assert.equal(formatLastSeenText({ bucket: 'just_now', count: 0, epochMs: 0, nextChangeMs: 1 }, 'fr'), new Intl.RelativeTimeFormat('fr', { numeric: 'auto' }).format(0, 'second'));
  assert.equal(formatLastSeenText({ bucket: 'never', count: 0, epochMs: 0, nextChangeMs: -1 }, 'en'), '');
  assert.match(formatLastSeenText({ bucket: 'date', count: 0, epochMs: Date.UTC(2024, 0, 5, 12), nextChangeMs: -1 }, 'en'), /2024/);
});
