// The Presence demo: sign in with a dev token, then contacts with status
// dots, last seen and typing, a chat box, the privacy panel and a
// connection banner. Built on the package's own client and hooks.
import { useEffect, useMemo, useState } from 'react';
import { createRoot } from 'react-dom/client';
import { createPresenceClient, loadCore } from '../src/index.js';
import {
  PresenceProvider,
  usePresenceClient,
  usePresence,
  useBulkPresence,
  useLastSeen,
  useActivity,
  useConnectionState,
  usePresenceSettings,
} from '../src/react/index.js';

const SAMPLE_USERS = ['alice', 'bob', 'carol'];
const WS_URL = `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}/ws`;
// presence_core.mjs (and its .wasm) sit beside this page.
const CORE_URL = new URL('./presence_core.mjs', location.href).href;

// Seconds since the epoch at which a JWT expires, or 0.
function jwtExp(token) {
  try {
    const payload = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    return JSON.parse(atob(payload)).exp ?? 0;
  } catch {
    return 0;
  }
}

async function devToken(userId) {
  const res = await fetch('/api/dev/token', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ userId }),
  });
  if (!res.ok) throw new Error(`dev token: HTTP ${res.status} ${await res.text()}`);
  const { token } = await res.json();
  return token;
}

function setUserParam(userId) {
  const u = new URL(location.href);
  if (userId) u.searchParams.set('user', userId);
  else u.searchParams.delete('user');
  history.replaceState(null, '', u);
}

// Conversation ids follow the user id rules (letters, digits, . _ @ -).
function conversationId(a, b) {
  return `dm.${[a, b].sort().join('.')}`;
}

function initials(id) {
  const parts = id.split(/[\s._-]+/).filter(Boolean);
  const s = parts.length > 1 ? parts[0][0] + parts[1][0] : id.slice(0, 2);
  return s.toUpperCase();
}

function hue(id) {
  let h = 0;
  for (const ch of id) h = (h * 31 + ch.codePointAt(0)) % 360;
  return h;
}

const DOTS = { online: '🟢', away: '🟡', offline: '⚫' };

// Drawn in CSS (green, yellow, black, grey for unknown) so it shows without
// an emoji font; the emoji is its label.
function StatusDot({ status }) {
  const known = status in DOTS;
  const label = known ? `${DOTS[status]} ${status}` : 'unknown';
  return <span className={`dot ${known ? status : 'unknown'}`} title={label} aria-label={label} data-status={status} />;
}

function Avatar({ userId, status }) {
  return (
    <span className="avatar" style={{ background: `hsl(${hue(userId)} 55% 50%)` }}>
      {initials(userId)}
      <StatusDot status={status} />
    </span>
  );
}

function activityText(activity) {
  if (!activity) return '';
  switch (activity.type) {
    case 'typing':
      return 'typing…';
    case 'viewing':
      return `viewing ${activity.page}`;
    case 'busy':
      return activity.reason ? `busy: ${activity.reason}` : 'busy';
    case 'idle':
      return 'idle';
    default:
      return '';
  }
}

function ContactRow({ userId, selected, onSelect }) {
  const view = usePresence(userId);
  const lastSeen = useLastSeen(userId);
  const activity = useActivity(userId);
  let sub;
  if (activity?.type === 'typing') sub = <span className="typing">typing…</span>;
  else if (view.status === 'offline') sub = lastSeen.text ? `last seen ${lastSeen.text}` : 'offline';
  else if (view.status === 'unknown') sub = 'status hidden';
  else sub = [view.status, activityText(activity)].filter(Boolean).join(' · ');
  return (
    <li
      className={`contact${selected ? ' selected' : ''}`}
      data-user={userId}
      data-status={view.status}
      onClick={() => onSelect(userId)}
    >
      <Avatar userId={userId} status={view.status} />
      <span className="who">
        <span className="name">{userId}</span>
        <span className="sub">{sub}</span>
      </span>
    </li>
  );
}

function Contacts({ contacts, setContacts, selected, onSelect }) {
  const client = usePresenceClient();
  const snapshot = useBulkPresence(contacts);
  const [draft, setDraft] = useState('');
  const [error, setError] = useState(null);
  const online = contacts.filter((id) => snapshot.get(id)?.status === 'online').length;
  const add = async (e) => {
    e.preventDefault();
    const id = draft.trim();
    if (!id || contacts.includes(id) || id === client.userId) return;
    try {
      setContacts(await client.contacts.set([...contacts, id]));
      setDraft('');
      setError(null);
    } catch (err) {
      setError(err);
    }
  };
  return (
    <section className="panel">
      <h2>
        Contacts <span className="muted">({online} online)</span>
      </h2>
      {contacts.length === 0 && <p className="muted">No contacts yet.</p>}
      <ul className="contacts">
        {contacts.map((id) => (
          <ContactRow key={id} userId={id} selected={id === selected} onSelect={onSelect} />
        ))}
      </ul>
      <form className="add" onSubmit={add}>
        <input value={draft} onChange={(e) => setDraft(e.target.value)} placeholder="add a contact" />
        <button type="submit">Add</button>
      </form>
      {error && <p className="error">{String(error.message ?? error)}</p>}
    </section>
  );
}

function Chat({ me, peer }) {
  const client = usePresenceClient();
  const activity = useActivity(peer ?? '');
  const view = usePresence(peer ?? '');
  const [messages, setMessages] = useState([]);
  const [text, setText] = useState('');
  const convo = peer ? conversationId(me, peer) : null;
  if (!peer) {
    return (
      <section className="panel chat">
        <h2>Chat</h2>
        <p className="muted">Pick a contact.</p>
      </section>
    );
  }
  const peerTyping = activity?.type === 'typing' && activity.conversationId === convo;
  const send = (e) => {
    e.preventDefault();
    if (!text.trim()) return;
    setMessages((m) => [...m, { from: me, to: peer, text }]);
    setText('');
  };
  return (
    <section className="panel chat" data-conversation={convo}>
      <h2>
        Chat with {peer} <span className="muted">({view.status})</span>
      </h2>
      <div className="messages">
        {messages
          .filter((m) => m.to === peer)
          .map((m, i) => (
            <div className="msg" key={i}>
              <b>{m.from}</b>
              {m.text}
            </div>
          ))}
        <p className="muted">Messages stay in this tab; the demo shows presence, not delivery.</p>
      </div>
      <div className="typing-line typing">{peerTyping ? `${peer} is typing…` : ''}</div>
      <form onSubmit={send}>
        <input
          className="chat-input"
          value={text}
          placeholder={`Message ${peer}`}
          onChange={(e) => {
            setText(e.target.value);
            client.startTyping(convo);
          }}
        />
        <button type="submit">Send</button>
      </form>
    </section>
  );
}

const VISIBILITY = ['everyone', 'contacts', 'nobody'];
const SETTINGS = [
  ['showOnlineStatus', 'Show my online status to'],
  ['showLastSeen', 'Show my last seen to'],
  ['showActivity', 'Show my activity (typing…) to'],
];

function Privacy() {
  const { settings, error, loading, update } = usePresenceSettings();
  return (
    <section className="panel privacy">
      <h2>Privacy</h2>
      {loading && <p className="muted">Loading…</p>}
      {SETTINGS.map(([key, label]) => (
        <label key={key}>
          {label}
          <select
            name={key}
            disabled={!settings}
            value={settings?.[key] ?? 'everyone'}
            onChange={(e) => update({ [key]: e.target.value })}
          >
            {VISIBILITY.map((v) => (
              <option key={v} value={v}>
                {v}
              </option>
            ))}
          </select>
        </label>
      ))}
      {error && <p className="error">Could not save: {String(error.message ?? error)}</p>}
    </section>
  );
}

function ConnectionBanner() {
  const state = useConnectionState();
  if (state === 'connected' || state === 'idle') return null;
  const text =
    state === 'offline'
      ? 'You are offline. Waiting for the network…'
      : state === 'reconnecting'
        ? 'Connection lost. Reconnecting…'
        : 'Connecting…';
  return (
    <div className={`banner ${state}`} role="status" data-state={state}>
      {text}
    </div>
  );
}

function Home({ userId, onSignOut }) {
  const client = usePresenceClient();
  const [contacts, setContacts] = useState([]);
  const [selected, setSelected] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    let live = true;
    client.contacts.get().then(
      (list) => {
        if (!live) return;
        setContacts(list);
        setSelected((s) => s ?? list[0] ?? null);
      },
      (err) => live && setError(err),
    );
    return () => {
      live = false;
    };
  }, [client]);
  return (
    <>
      <ConnectionBanner />
      <header>
        <span>
          Signed in as <b data-me={userId}>{userId}</b>
        </span>
        <button onClick={onSignOut}>Sign out</button>
      </header>
      {error && <p className="error">Contacts: {String(error.message ?? error)}</p>}
      <main className="layout">
        <Contacts contacts={contacts} setContacts={setContacts} selected={selected} onSelect={setSelected} />
        <Chat me={userId} peer={selected} />
        <Privacy />
      </main>
    </>
  );
}

function SignIn({ onSignIn, error }) {
  const [draft, setDraft] = useState('');
  return (
    <div className="signin">
      <h1>Presence demo</h1>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          if (draft.trim()) onSignIn(draft.trim());
        }}
      >
        <input value={draft} onChange={(e) => setDraft(e.target.value)} placeholder="any user id" autoFocus />
        <button type="submit">Sign in</button>
      </form>
      <div className="picks">
        or
        {SAMPLE_USERS.map((id) => (
          <button key={id} onClick={() => onSignIn(id)}>
            {id}
          </button>
        ))}
      </div>
      {error && <p className="error">{String(error.message ?? error)}</p>}
    </div>
  );
}

function App() {
  const initialUser = useMemo(() => new URL(location.href).searchParams.get('user') || null, []);
  const [userId, setUserId] = useState(initialUser);
  const [client, setClient] = useState(null);
  const [error, setError] = useState(null);

  useEffect(() => {
    if (!userId) return undefined;
    let c = null;
    let live = true;
    // The first token proves the user id works; the client awaits getToken
    // on every reconnect and REST call (dev tokens expire).
    devToken(userId).then(
      (first) => {
        if (!live) return;
        // Reused until a minute before it expires, then a new one.
        let token = first;
        let fresh = null;
        const getToken = () => {
          if (jwtExp(token) * 1000 - Date.now() > 60000) return token;
          fresh ??= devToken(userId).then(
            (t) => ((token = t), (fresh = null), t),
            (err) => {
              fresh = null;
              throw err;
            },
          );
          return fresh;
        };
        // ?idleMs=N shortens the idle time (the e2e scenarios use it).
        const idleMs = Number(new URL(location.href).searchParams.get('idleMs')) || undefined;
        c = createPresenceClient({
          url: WS_URL,
          getToken,
          device: 'web',
          idleMs,
          core: loadCore({ moduleUrl: CORE_URL }),
        });
        c.ready.catch((err) => live && setError(err));
        setUserParam(userId);
        setClient(c);
      },
      (err) => {
        if (!live) return;
        setError(err);
        setUserId(null);
      },
    );
    return () => {
      live = false;
      c?.close();
      setClient(null);
    };
  }, [userId]);

  if (!userId) {
    return (
      <SignIn
        error={error}
        onSignIn={(id) => {
          setError(null);
          setUserId(id);
        }}
      />
    );
  }
  if (!client) return <p className="muted" style={{ padding: 16 }}>Signing in as {userId}…</p>;
  return (
    <PresenceProvider client={client}>
      {error && <p className="error">{String(error.message ?? error)}</p>}
      <Home
        userId={userId}
        onSignOut={() => {
          setUserParam(null);
          setUserId(null);
        }}
      />
    </PresenceProvider>
  );
}

createRoot(document.getElementById('root')).render(<App />);
