// @presence/web/react: hooks over the client's external store.
// Plain JS (createElement, no JSX). React is a peer dependency.
import {
  createContext,
  createElement,
  useCallback,
  useContext,
  useEffect,
  useMemo,
  useRef,
  useState,
  useSyncExternalStore,
} from 'react';
import { unknownView, PresenceSnapshot } from '../store.js';

const PresenceContext = createContext(null);

// Module-level server snapshots: stable across renders, no client needed.
const EMPTY_SNAPSHOT = new PresenceSnapshot(new Map(), 'idle');
const noopSubscribe = () => () => {};
const serverConnectionState = () => 'idle';

export function PresenceProvider({ client, children }) {
  return createElement(PresenceContext.Provider, { value: client ?? null }, children);
}

/** The client from the nearest PresenceProvider, or null (server rendering without one). */
export function usePresenceClient() {
  return useContext(PresenceContext);
}

function useFollow(client, ids, key) {
  useEffect(() => {
    if (!client || ids.length === 0) return undefined;
    return client.follow(ids);
    // `key` is the set of ids; `ids` is derived from it.
  }, [client, key]);
}

/** The View of one user ('unknown' status until known). */
export function usePresence(userId) {
  const client = usePresenceClient();
  const ids = useMemo(() => (userId ? [userId] : []), [userId]);
  useFollow(client, ids, userId ?? '');
  const subscribe = useCallback(
    (listener) => (client && userId ? client.store.subscribeUser(userId, listener) : () => {}),
    [client, userId],
  );
  const getSnapshot = useCallback(() => (client ? client.getPresence(userId) : unknownView(userId)), [client, userId]);
  const getServerSnapshot = useCallback(() => unknownView(userId), [userId]);
  return useSyncExternalStore(subscribe, getSnapshot, getServerSnapshot);
}

function idsKey(userIds) {
  return [...new Set(userIds ?? [])].sort().join('\n');
}

/**
 * Views of many users as a frozen Map-like snapshot. Depends on the SET of
 * ids: a new array with the same ids neither re-subscribes nor re-renders.
 */
export function useBulkPresence(userIds) {
  const client = usePresenceClient();
  const key = idsKey(userIds);
  const ids = useMemo(() => (key ? key.split('\n') : []), [key]);
  useFollow(client, ids, key);
  const cache = useRef(null);
  const subscribe = useCallback(
    (listener) => {
      if (!client) return () => {};
      const offs = ids.map((id) => client.store.subscribeUser(id, listener));
      return () => offs.forEach((off) => off());
    },
    [client, ids],
  );
  const build = (read) => {
    const views = ids.map(read);
    const prev = cache.current;
    if (prev && prev.ids === ids && prev.views.every((v, i) => v === views[i])) return prev.snapshot;
    const snapshot = new PresenceSnapshot(new Map(ids.map((id, i) => [id, views[i]])), 'idle');
    cache.current = { ids, views, snapshot };
    return snapshot;
  };
  const getSnapshot = () => build((id) => (client ? client.getPresence(id) : unknownView(id)));
  const serverCache = useRef(null);
  const getServerSnapshot = () => {
    if (serverCache.current?.ids !== ids) {
      serverCache.current = {
        ids,
        snapshot: ids.length ? new PresenceSnapshot(new Map(ids.map((id) => [id, unknownView(id)])), 'idle') : EMPTY_SNAPSHOT,
      };
    }
    return serverCache.current.snapshot;
  };
  return useSyncExternalStore(subscribe, getSnapshot, getServerSnapshot);
}

/** The activity of a user, or null. */
export function useActivity(userId) {
  return usePresence(userId).activity ?? null;
}

/** The connection state: idle, connecting, authenticating, connected, reconnecting, offline. */
export function useConnectionState() {
  const client = usePresenceClient();
  const subscribe = client ? client.store.subscribe : noopSubscribe;
  const getSnapshot = client ? () => client.store.getSnapshot().connectionState : serverConnectionState;
  return useSyncExternalStore(subscribe, getSnapshot, serverConnectionState);
}

function defaultLocale() {
  return typeof navigator !== 'undefined' && navigator.language ? navigator.language : undefined;
}

/**
 * Formats a classification from the core's classifyLastSeen with
 * Intl.RelativeTimeFormat / Intl.DateTimeFormat.
 */
export function formatLastSeenText(c, locale = defaultLocale()) {
  if (!c || c.bucket === 'never') return '';
  const rtf = new Intl.RelativeTimeFormat(locale, { numeric: 'auto' });
  switch (c.bucket) {
    case 'just_now':
      // Intl has no "just now" (English gives "now"); English gets the
      // seed's words, other languages Intl's word for now.
      return /^en\b/i.test(rtf.resolvedOptions().locale) ? 'just now' : rtf.format(0, 'second');
    case 'minutes':
      return rtf.format(-c.count, 'minute');
    case 'hours':
      return rtf.format(-c.count, 'hour');
    case 'days':
      return rtf.format(-c.count, 'day');
    default:
      return new Intl.DateTimeFormat(locale, { dateStyle: 'medium' }).format(new Date(c.epochMs));
  }
}

const NEVER = Object.freeze({ text: '', bucket: 'never', lastSeen: null });

/**
 * `{text, bucket, lastSeen}` for a user's last seen; text is '' when it is
 * unknown or hidden. Re-renders exactly when the text would change.
 */
export function useLastSeen(userId, options = {}) {
  const client = usePresenceClient();
  const view = usePresence(userId);
  const [, setTick] = useState(0);
  const lastSeen = typeof view.lastSeen === 'number' ? view.lastSeen : null;
  const core = client?.core;
  let c = null;
  if (core && lastSeen !== null) c = core.classifyLastSeen(lastSeen, client.serverNow());
  const nextChangeMs = c ? c.nextChangeMs : -1;
  useEffect(() => {
    if (!client || nextChangeMs < 0) return undefined;
    const delay = Math.max(0, nextChangeMs - client.serverNow());
    const id = setTimeout(() => setTick((t) => t + 1), delay + 1);
    return () => clearTimeout(id);
  }, [client, nextChangeMs]);
  const locale = options.locale ?? defaultLocale();
  const text = c ? formatLastSeenText(c, locale) : '';
  const bucket = c ? c.bucket : 'never';
  return useMemo(
    () => (lastSeen === null ? NEVER : Object.freeze({ text, bucket, lastSeen })),
    [text, bucket, lastSeen],
  );
}

/**
 * `{settings, error, loading, update(partial)}`: the user's privacy settings.
 * `update` is optimistic; a failed PUT rolls back to the last confirmed
 * settings and sets `error`.
 */
export function usePresenceSettings() {
  const client = usePresenceClient();
  const [state, setState] = useState({ settings: null, error: null, loading: true });
  const confirmed = useRef(null);
  const seq = useRef(0);
  useEffect(() => {
    if (!client) return undefined;
    let live = true;
    const mine = ++seq.current;
    client.settings.get().then(
      (settings) => {
        confirmed.current = settings;
        if (live && seq.current === mine) setState({ settings, error: null, loading: false });
      },
      (error) => live && seq.current === mine && setState((s) => ({ ...s, error, loading: false })),
    );
    return () => {
      live = false;
    };
  }, [client]);
  const update = useCallback(
    async (partial) => {
      if (!client) throw new Error('usePresenceSettings: no PresenceProvider client');
      const mine = ++seq.current;
      setState((s) => ({ settings: { ...(s.settings ?? {}), ...partial }, error: null, loading: false }));
      try {
        const settings = await client.settings.update(partial);
        confirmed.current = settings;
        if (seq.current === mine) setState({ settings, error: null, loading: false });
        return settings;
      } catch (error) {
        if (seq.current === mine) setState({ settings: confirmed.current, error, loading: false });
        return null;
      }
    },
    [client],
  );
  return { ...state, update };
}
