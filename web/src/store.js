// The presence store: frozen Views and frozen snapshots, no React, no DOM.
//
// A snapshot is a new object only when something in it changed, so
// `useSyncExternalStore` can compare by identity. Listeners are global (any
// change) or per user (only that user's View changed), so a component
// re-renders only for its own users.

const UNKNOWN = 'unknown';

/** A frozen, Map-like, read-only collection of Views keyed by userId. */
export class PresenceSnapshot {
  #views;
  constructor(views, connectionState) {
    this.#views = views;
    this.connectionState = connectionState;
    this.size = views.size;
    Object.freeze(this);
  }
  get(id) {
    return this.#views.get(id);
  }
  has(id) {
    return this.#views.has(id);
  }
  keys() {
    return this.#views.keys();
  }
  values() {
    return this.#views.values();
  }
  entries() {
    return this.#views.entries();
  }
  forEach(fn, thisArg) {
    this.#views.forEach((v, k) => fn.call(thisArg, v, k, this));
  }
  [Symbol.iterator]() {
    return this.#views.entries();
  }
}

/** A View as the app sees it: `status` is always present ('unknown' when hidden or not known). */
export function normalizeView(raw) {
  const view = { userId: raw.userId, status: raw.status ?? UNKNOWN };
  if (raw.lastSeen !== undefined) view.lastSeen = raw.lastSeen;
  if (raw.device !== undefined) view.device = raw.device;
  // An activity is one flat object of strings (protocol v1).
  if (raw.activity !== undefined) view.activity = Object.freeze(raw.activity);
  return Object.freeze(view);
}

function sameActivity(a, b) {
  if (a === b) return true;
  if (!a || !b || a.type !== b.type) return false;
  return a.page === b.page && a.conversationId === b.conversationId && a.reason === b.reason;
}

// Field by field: the core reports only views that changed, so this is a
// guard for repeated applies, not the hot path's filter.
function sameView(a, b) {
  return (
    a === b ||
    (a !== undefined &&
      b !== undefined &&
      a.status === b.status &&
      a.lastSeen === b.lastSeen &&
      a.device === b.device &&
      sameActivity(a.activity, b.activity))
  );
}

// Views of users the store knows nothing about, one frozen object per id so
// reads are stable. Shared by every store (and by server rendering).
const unknownViews = new Map();
export function unknownView(id) {
  let view = unknownViews.get(id);
  if (!view) {
    view = Object.freeze({ userId: id, status: UNKNOWN });
    if (unknownViews.size > 10000) unknownViews.clear();
    unknownViews.set(id, view);
  }
  return view;
}

export function createStore(initialState = 'idle') {
  // The current Views, changed in place; a snapshot is a frozen copy made
  // only when someone asks for one after a change, so applying a frame
  // costs per changed View, not per View held.
  const views = new Map();
  let connection = initialState;
  let snapshot = null;
  const listeners = new Set();
  const userListeners = new Map(); // id -> Set<listener>

  function notify(changedIds) {
    if (changedIds && userListeners.size) {
      for (const id of changedIds) {
        const set = userListeners.get(id);
        if (set) for (const fn of [...set]) fn();
      }
    }
    if (listeners.size) for (const fn of [...listeners]) fn();
  }

  return {
    getSnapshot: () => (snapshot ??= new PresenceSnapshot(new Map(views), connection)),
    getView: (id) => views.get(id) ?? unknownView(id),
    /** The connection state, without making a snapshot. */
    connectionState: () => connection,
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    subscribeUser(id, listener) {
      let set = userListeners.get(id);
      if (!set) userListeners.set(id, (set = new Set()));
      set.add(listener);
      return () => {
        set.delete(listener);
        if (set.size === 0 && userListeners.get(id) === set) userListeners.delete(id);
      };
    },
    /**
     * Applies `{changed:[View], removed:[id]}` and/or a connection state;
     * notifies only on change. `owned`: the Views are frozen and final, as
     * the module's pollChanges gives them (the client's): one with a status
     * and no activity is kept as it is, with no copy, no freeze and no
     * compare (the core reports only Views that changed).
     */
    apply(changes, connectionState = connection, owned = false) {
      // The ids are listed only for per-user listeners; else a count does.
      const changedIds = userListeners.size ? [] : null;
      let count = 0;
      const changed = changes?.changed;
      if (changed) {
        for (let i = 0; i < changed.length; i++) {
          let view = changed[i];
          if (!owned || view.status === undefined || view.activity !== undefined) {
            view = normalizeView(view);
            if (sameView(views.get(view.userId), view)) continue;
          }
          views.set(view.userId, view);
          count++;
          if (changedIds) changedIds.push(view.userId);
        }
      }
      for (const id of changes?.removed ?? []) {
        if (!views.delete(id)) continue;
        count++;
        if (changedIds) changedIds.push(id);
      }
      if (!count && connectionState === connection) return false;
      connection = connectionState;
      snapshot = null;
      notify(changedIds);
      return true;
    },
  };
}
