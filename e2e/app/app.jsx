// A page that is not the demo: an app that installed @presence/web as a
// package (e2e/node_modules) and uses it the way its README says. It follows
// `?follow=N` users named `?prefix=` + i and shows each one's status, plus
// counts from useBulkPresence. It also measures, for the e2e report:
//   connectMs   createPresenceClient -> connected (first welcome)
//   frames      per received frame: bytes, views in it, ms to apply it
//               (the client's whole handling: core + store), measured by
//               wrapping the WebSocket the client is given.
import { useMemo, useState } from 'react';
import { createRoot } from 'react-dom/client';
import { createPresenceClient } from '@presence/web';
import { PresenceProvider, usePresence, useBulkPresence, useConnectionState } from '@presence/web/react';

const params = new URL(location.href).searchParams;
const userId = params.get('user') ?? 'watcher';
const count = Number(params.get('follow') ?? 0);
const prefix = params.get('prefix') ?? 'u';
const ids = Array.from({ length: count }, (_, i) => `${prefix}${i}`);

const metrics = { connectMs: null, frames: [], renders: {}, summaryRenders: 0 };

class TimedWebSocket extends WebSocket {
  set onmessage(handler) {
    super.onmessage =
      handler &&
      ((event) => {
        const start = performance.now();
        handler(event);
        const ms = performance.now() - start;
        const data = typeof event.data === 'string' ? event.data : '';
        metrics.frames.push({ bytes: data.length, views: data.split('"userId"').length - 1, ms });
      });
  }
  get onmessage() {
    return super.onmessage;
  }
}

async function token() {
  const res = await fetch('/api/dev/token', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ userId }),
  });
  return (await res.json()).token;
}

function Row({ id }) {
  const view = usePresence(id);
  metrics.renders[id] = (metrics.renders[id] ?? 0) + 1;
  return (
    <li data-user={id} data-status={view.status}>
      {id}
    </li>
  );
}

// `list` is a new array on every "re-render" click: same set, new identity.
function Summary({ list }) {
  const snapshot = useBulkPresence(list);
  metrics.summaryRenders++;
  const state = useConnectionState();
  const counts = { online: 0, away: 0, offline: 0, unknown: 0 };
  for (const id of ids) counts[snapshot.get(id)?.status ?? 'unknown']++;
  return (
    <p id="summary" data-state={state} data-online={counts.online} data-away={counts.away}
       data-offline={counts.offline} data-unknown={counts.unknown}>
      {state}: {counts.online} online, {counts.away} away, {counts.offline} offline, {counts.unknown} unknown
    </p>
  );
}

function App({ client }) {
  const rows = useMemo(() => ids.map((id) => <Row key={id} id={id} />), []);
  const [list, setList] = useState(ids);
  return (
    <PresenceProvider client={client}>
      <h1>Following {ids.length} users as {userId}</h1>
      <button id="rerender" onClick={() => setList([...ids].reverse())}>re-render with a new array</button>
      <Summary list={list} />
      <ul>{rows}</ul>
    </PresenceProvider>
  );
}

const start = performance.now();
const client = createPresenceClient({
  url: `ws://${location.host}/ws`,
  getToken: token,
  WebSocket: TimedWebSocket,
});
const stopWatching = client.subscribe(() => {
  if (metrics.connectMs === null && client.connectionState === 'connected') {
    metrics.connectMs = performance.now() - start;
    stopWatching();
  }
});
window.presence = { client, metrics };
createRoot(document.getElementById('root')).render(<App client={client} />);
