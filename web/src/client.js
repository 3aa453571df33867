// createPresenceClient: the JS shim that executes what the WASM ClientSession
// decides. One WebSocket at a time, one timer at the core's next deadline;
// after every input: pollAction, pollTransmits, pollChanges, re-arm.

import { createStore } from './store.js';
import { trackBrowser } from './browser.js';

let corePromise = null;

/**
 * Loads the WASM core once (the promise is cached). By default
 * `presence_core.mjs` is imported from beside this module; it finds
 * `presence_core.wasm` beside itself.
 */
export function loadCore(options = {}) {
  if (!corePromise) {
    const url = options.moduleUrl ?? new URL('./presence_core.mjs', import.meta.url).href;
    corePromise = import(/* @vite-ignore */ /* webpackIgnore: true */ url)
      .then((mod) => mod.default(options.moduleOptions ?? {}))
      .catch((error) => {
        corePromise = null;
        throw error;
      });
  }
  return corePromise;
}

/** Sets the core every later client uses (tests, custom loaders). */
export function setCore(core) {
  corePromise = Promise.resolve(core);
}

const SESSION_KEY = 'presence.session';

function httpBase(url) {
  const u = new URL(url, typeof location !== 'undefined' ? location.href : undefined);
  u.protocol = u.protocol === 'wss:' ? 'https:' : u.protocol === 'ws:' ? 'http:' : u.protocol;
  u.pathname = '/';
  u.search = '';
  u.hash = '';
  return u;
}

function toIds(ids) {
  return typeof ids === 'string' ? [ids] : Array.from(ids ?? []);
}

export function createPresenceClient(options) {
  if (!options || !options.url) throw new TypeError('createPresenceClient: url is required');
  const {
    url,
    device = 'web',
    // No default here: the core's (attention.h) applies when this is unset.
    idleMs,
    config = {},
    trackBrowser: wantBrowser = true,
  } = options;
  const WS = options.WebSocket ?? (typeof WebSocket !== 'undefined' ? WebSocket : undefined);
  const now = options.now ?? Date.now;
  const setTimer = options.setTimeout ?? ((fn, ms) => setTimeout(fn, ms));
  const clearTimer = options.clearTimeout ?? ((id) => clearTimeout(id));
  const fetchImpl = options.fetch ?? (typeof fetch !== 'undefined' ? fetch.bind(globalThis) : undefined);
  const getToken =
    options.getToken ?? (async () => {
      if (options.token === undefined) throw new Error('createPresenceClient: token or getToken is required');
      return options.token;
    });
  const storage = (() => {
    try {
      return options.sessionStorage ?? (typeof sessionStorage !== 'undefined' ? sessionStorage : null);
    } catch {
      return null; // sessionStorage may throw when storage is blocked
    }
  })();

  const store = createStore('idle');
  let core = null;
  let session = null;
  let closed = false;
  let socket = null;
  let connectGen = 0;
  let timer = null;
  let timerAt = -1;
  let detachBrowser = null;
  let savedSession = '';
  // Inputs made before the core loaded, replayed in order.
  const pending = [];

  // ---- the pump ----
  function pump() {
    if (!session || closed) return;
    for (let action = session.pollAction(); action; action = session.pollAction()) {
      if (action === 'open') openSocket();
      else if (action.startsWith('close:')) closeSocket(Number(action.slice(6)) || 1000);
    }
    const frames = session.pollTransmits();
    if (frames.length && socket && socket.readyState === 1) {
      for (const frame of frames) socket.send(frame);
    }
    // Views come out of the core as objects (no JSON to parse), the store's
    // to keep.
    const changes = session.pollChanges();
    const state = session.state();
    const stateChanged = state !== store.connectionState();
    if (changes.changed.length || changes.removed.length || stateChanged) {
      store.apply(changes, state, true);
    }
    // The session id changes only with a welcome, which also changes the
    // state: no need to ask for it after every frame.
    if (stateChanged && storage) {
      const id = session.sessionId();
      if (id && id !== savedSession) {
        savedSession = id;
        try {
          storage.setItem(SESSION_KEY, id);
        } catch {}
      }
    }
    arm(session.nextDeadline());
  }

  // One timer. Input only ever moves the core's deadline later, so a timer
  // already due sooner is kept: it fires early, the core re-checks, and the
  // pump re-arms for what is then next. No timer churn per mouse move.
  function arm(deadline) {
    if (timer !== null && timerAt <= deadline) return;
    if (timer !== null && deadline < 0) return; // firing early is harmless
    if (timer !== null) clearTimer(timer);
    timer = null;
    timerAt = deadline;
    if (deadline < 0) return;
    timer = setTimer(() => {
      timer = null;
      timerAt = -1;
      if (!session || closed) return;
      session.handleTimeout(now());
      pump();
    }, Math.max(0, deadline - now()));
  }

  function input(fn) {
    if (closed) return false;
    if (!session) {
      pending.push(fn);
      return true;
    }
    const result = fn(now());
    pump();
    return result;
  }

  // ---- the socket ----
  function detach(ws) {
    ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
  }

  function closeSocket(code) {
    connectGen++; // a connect still awaiting its token is abandoned
    const ws = socket;
    socket = null;
    if (!ws) return;
    detach(ws);
    try {
      ws.close(code === 1000 || (code >= 3000 && code <= 4999) ? code : 1000);
    } catch {
      try {
        ws.close();
      } catch {}
    }
  }

  async function openSocket() {
    if (socket) closeSocket(1000);
    const gen = ++connectGen;
    let token;
    try {
      token = await getToken();
    } catch (error) {
      if (gen !== connectGen || closed || !session) return;
      // No token: the core sees a failed connect and backs off.
      session.handleSocketClose(1006, now());
      pump();
      return;
    }
    if (gen !== connectGen || closed || !session) return;
    session.setToken(String(token));
    let ws;
    try {
      ws = new WS(url);
    } catch (error) {
      session.handleSocketClose(1006, now());
      pump();
      return;
    }
    socket = ws;
    ws.onopen = () => {
      if (ws !== socket) return;
      session.handleSocketOpen(now());
      pump();
    };
    ws.onmessage = (event) => {
      if (ws !== socket) return;
      let data = event.data;
      if (typeof data !== 'string') {
        data = data instanceof ArrayBuffer ? new Uint8Array(data) : data;
        data = typeof data?.byteLength === 'number' ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : String(data);
      }
      session.handleMessage(data, now());
      pump();
    };
    ws.onclose = (event) => {
      if (ws !== socket) return;
      socket = null;
      detach(ws);
      session.handleSocketClose(event?.code ?? 1006, now());
      pump();
    };
    ws.onerror = () => {}; // a close event follows
  }

  // ---- REST ----
  async function rest(method, path, body) {
    if (!fetchImpl) throw new Error('presence: no fetch available');
    const token = await getToken();
    const response = await fetchImpl(new URL(path, httpBase(url)).href, {
      method,
      headers: {
        Authorization: `Bearer ${token}`,
        ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}),
      },
      body: body !== undefined ? JSON.stringify(body) : undefined,
    });
    let json = null;
    try {
      json = await response.json();
    } catch {}
    if (!response.ok) {
      const error = new Error(json?.error ?? `HTTP ${response.status}`);
      error.status = response.status;
      throw error;
    }
    return json;
  }

  // ---- start ----
  function init(loaded) {
    if (closed) return;
    core = loaded;
    const cfg = { device, ...(idleMs !== undefined ? { idleMs } : {}), ...config };
    if (storage && cfg.resumeSession === undefined) {
      try {
        const saved = storage.getItem(SESSION_KEY);
        if (saved) cfg.resumeSession = saved;
      } catch {}
    }
    // A session kept by the previous page resumes: a reload does not flap.
    let created = core.ClientSession.create(JSON.stringify(cfg));
    if (!created) throw new Error('presence: invalid client config ' + JSON.stringify(cfg));
    session = created;
    // The page's state first, so the first auth carries it (a tab opened in
    // the background starts away, with no flap).
    if (wantBrowser) {
      detachBrowser = trackBrowser(page, { document: options.document, window: options.window, now });
    }
    session.start(now());
    for (const fn of pending.splice(0)) fn(now());
    pump();
  }

  // Page inputs from the DOM wiring; the core decides what they mean.
  const page = {
    visibility: (visible) => input((t) => void session.handlePageVisibility(!!visible, t)),
    focus: (focused) => input((t) => void session.handlePageFocus(!!focused, t)),
    input: () => input((t) => void session.handleUserInput(t)),
    pageHide: (persisted) => input((t) => void session.handlePageHide(!!persisted, t)),
    pageShow: (persisted) => input((t) => void session.handlePageShow(!!persisted, t)),
    network: (online) => input((t) => void session.handleNetwork(!!online, t)),
  };

  const client = {
    get ready() {
      return ready;
    },
    get core() {
      return core;
    },
    get connectionState() {
      return store.connectionState();
    },
    get sessionId() {
      return session ? session.sessionId() : '';
    },
    get userId() {
      return session ? session.userId() : '';
    },
    /** Server time estimate (local clock + the offset from the last welcome). */
    serverNow() {
      return now() + (session ? session.serverOffsetMs() : 0);
    },
    /**
     * `subscribe(ids)` follows users; `subscribe(listener)` is the store
     * interface (any change) and returns an unsubscribe function.
     */
    subscribe(arg) {
      if (typeof arg === 'function') return store.subscribe(arg);
      const ids = toIds(arg);
      return input((t) => session.subscribe(ids, t));
    },
    unsubscribe(ids) {
      const list = toIds(ids);
      return input((t) => session.unsubscribe(list, t));
    },
    replaceSubscriptions(ids) {
      const list = toIds(ids);
      return input((t) => session.replaceSubscriptions(list, t));
    },
    getSnapshot: store.getSnapshot,
    getPresence: (id) => store.getView(id),
    isOnline: (id) => store.getView(id).status === 'online',
    setStatus: (status) => input((t) => session.setStatus(status, t)),
    setActivity: (kind, text) => input((t) => session.setActivity(kind, text ?? null, t)),
    startTyping: (conversationId) => input((t) => session.startTyping(conversationId, t)),
    handleNetwork: page.network,
    /** The status others are told (the page may turn `online` into `away`). */
    get status() {
      return session ? session.status() : 'online';
    },
    store: {
      getSnapshot: store.getSnapshot,
      subscribe: store.subscribe,
      subscribeUser: store.subscribeUser,
      getView: store.getView,
    },
    settings: {
      get: () => rest('GET', '/api/settings/presence'),
      update: (partial) => rest('PUT', '/api/settings/presence', partial),
    },
    contacts: {
      get: async () => (await rest('GET', '/api/contacts'))?.contacts ?? [],
      set: async (ids) => (await rest('PUT', '/api/contacts', { contacts: toIds(ids) }))?.contacts ?? [],
    },
    lastError() {
      const text = session ? session.lastErrorJson() : '';
      return text ? JSON.parse(text) : null;
    },
    close() {
      if (closed) return;
      if (detachBrowser) detachBrowser();
      detachBrowser = null;
      if (session) {
        session.stop(now());
        pump();
      }
      closed = true;
      closeSocket(1000);
      if (timer !== null) clearTimer(timer);
      timer = null;
      if (session) {
        store.apply(null, 'idle');
        session.delete();
        session = null;
      }
    },
  };

  // Reference-counted following, for hooks: follow(ids) returns release().
  const refs = new Map();
  client.follow = (ids) => {
    const list = [...new Set(toIds(ids))];
    const fresh = list.filter((id) => {
      const n = refs.get(id) ?? 0;
      refs.set(id, n + 1);
      return n === 0;
    });
    if (fresh.length) client.subscribe(fresh);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const gone = list.filter((id) => {
        const n = (refs.get(id) ?? 1) - 1;
        if (n <= 0) refs.delete(id);
        else refs.set(id, n);
        return n <= 0;
      });
      if (gone.length && !closed) client.unsubscribe(gone);
    };
  };

  const ready = (options.core ? Promise.resolve(options.core) : loadCore(options)).then(init).then(() => client);
  ready.catch(() => {}); // surfaced through `client.ready`
  return client;
}
