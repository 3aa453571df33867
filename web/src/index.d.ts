// Types for @presence/web.

export type Status = 'online' | 'away' | 'offline';
/** `unknown`: hidden from this viewer or not known yet. Never read as offline. */
export type ViewStatus = Status | 'unknown';
export type Device = 'web' | 'mobile' | 'desktop';
export type Visibility = 'everyone' | 'contacts' | 'nobody';
export type ConnectionState = 'idle' | 'connecting' | 'authenticating' | 'connected' | 'reconnecting' | 'offline';
export type ActivityKind = 'viewing' | 'typing' | 'idle' | 'busy';

export type Activity =
  | { readonly type: 'viewing'; readonly page: string }
  | { readonly type: 'typing'; readonly conversationId: string }
  | { readonly type: 'idle' }
  | { readonly type: 'busy'; readonly reason: string };

/** What a viewer may see of a user (frozen). Missing fields are hidden or unknown. */
export interface View {
  readonly userId: string;
  readonly status: ViewStatus;
  /** Epoch ms (server clock); only with status `offline`. */
  readonly lastSeen?: number;
  readonly device?: Device;
  readonly activity?: Activity;
}

export interface PresenceSettings {
  showOnlineStatus: Visibility;
  showLastSeen: Visibility;
  showActivity: Visibility;
}

/** A frozen, Map-like, read-only collection of Views keyed by userId. */
export declare class PresenceSnapshot implements Iterable<[string, View]> {
  private constructor();
  readonly size: number;
  readonly connectionState: ConnectionState;
  get(userId: string): View | undefined;
  has(userId: string): boolean;
  keys(): IterableIterator<string>;
  values(): IterableIterator<View>;
  entries(): IterableIterator<[string, View]>;
  forEach(fn: (view: View, userId: string, snapshot: PresenceSnapshot) => void, thisArg?: unknown): void;
  [Symbol.iterator](): IterableIterator<[string, View]>;
}

export interface PresenceStore {
  /** A new snapshot object only when something changed. */
  getSnapshot(): PresenceSnapshot;
  /** Any change (views or connection state). Returns the unsubscribe function. */
  subscribe(listener: () => void): () => void;
  /** Changes of one user's View only. */
  subscribeUser(userId: string, listener: () => void): () => void;
  /** The View, or a stable `{userId, status: 'unknown'}`. */
  getView(userId: string): View;
}

export interface WritableStore extends PresenceStore {
  /**
   * `owned`: the Views are frozen and final, as the WASM module's
   * `pollChanges` gives them (the client passes its own): one with a status
   * and no activity is kept as the very object given (no copy, no freeze, no
   * compare with the View held); others are copied and frozen as without it.
   */
  apply(changes: { changed?: readonly object[]; removed?: readonly string[] } | null, connectionState?: ConnectionState, owned?: boolean): boolean;
  /** The connection state, without making a snapshot. */
  connectionState(): ConnectionState;
}

/** The WASM module (see docs/wasm.md). */
export interface PresenceCore {
  ClientSession: { create(configJson: string): unknown | null };
  classifyLastSeen(lastSeenMs: number, nowMs: number): LastSeenClass;
  formatLastSeen(lastSeenMs: number, nowMs: number): string;
  [name: string]: unknown;
}

export interface LastSeenClass {
  bucket: 'never' | 'just_now' | 'minutes' | 'hours' | 'days' | 'date';
  count: number;
  epochMs: number;
  /** Absolute epoch ms at which the text changes, -1 never. */
  nextChangeMs: number;
}

export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number): void;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code?: number }) => void) | null;
  onerror: ((event: unknown) => void) | null;
}

export interface ClientSessionConfig {
  seed?: number;
  backoffBaseMs?: number;
  backoffCapMs?: number;
  heartbeatMs?: number;
  activityAutoClearMs?: number;
  authTimeoutMs?: number;
  /** Passed through; used once the binding accepts it. */
  resumeSession?: string;
}

export interface PresenceClientOptions {
  /** WebSocket endpoint, e.g. `wss://host/ws`. REST uses the same host over http(s). */
  url: string;
  token?: string;
  /** Awaited before every connect and every REST call (tokens expire). */
  getToken?: () => string | Promise<string>;
  device?: Device;
  /** No input for this long => away. Default 300000. */
  idleMs?: number;
  /** Extra ClientSession config (backoff, heartbeat, seed...). */
  config?: ClientSessionConfig;
  /** The loaded WASM core, or a promise of it; defaults to `loadCore()`. */
  core?: PresenceCore | Promise<PresenceCore>;
  WebSocket?: new (url: string) => WebSocketLike;
  fetch?: typeof fetch;
  now?: () => number;
  setTimeout?: (fn: () => void, ms: number) => unknown;
  clearTimeout?: (id: unknown) => void;
  document?: Document | EventTarget;
  window?: Window | EventTarget;
  sessionStorage?: Pick<Storage, 'getItem' | 'setItem'> | null;
  /** Attach the DOM listeners (visibility, focus, idle, pagehide, network). Default true. */
  trackBrowser?: boolean;
  moduleUrl?: string;
}

export interface PresenceClient {
  /** Resolves once the core is loaded and the session started. */
  readonly ready: Promise<PresenceClient>;
  readonly core: PresenceCore | null;
  readonly connectionState: ConnectionState;
  readonly sessionId: string;
  readonly userId: string;
  /** Local clock plus the server offset from the last welcome. */
  serverNow(): number;

  /** Follow users. */
  subscribe(userIds: string | readonly string[]): boolean;
  /** Store interface: any change; returns the unsubscribe function. */
  subscribe(listener: () => void): () => void;
  unsubscribe(userIds: string | readonly string[]): boolean;
  replaceSubscriptions(userIds: readonly string[]): boolean;
  /** Reference-counted subscribe (used by the hooks); returns release(). */
  follow(userIds: string | readonly string[]): () => void;

  getSnapshot(): PresenceSnapshot;
  getPresence(userId: string): View;
  isOnline(userId: string): boolean;
  /** The status the person chooses; while `online`, the page shows as `away` when hidden, blurred or idle. */
  setStatus(status: Status): boolean;
  /** What others are told now: the chosen status as the page allows. */
  readonly status: Status;
  setActivity(kind: ActivityKind, text?: string): boolean;
  /** Typing in a conversation; clears 3 s after the last call. */
  startTyping(conversationId: string): boolean;
  handleNetwork(online: boolean): void;
  readonly store: PresenceStore;
  readonly settings: {
    get(): Promise<PresenceSettings>;
    update(partial: Partial<PresenceSettings>): Promise<PresenceSettings>;
  };
  readonly contacts: {
    get(): Promise<string[]>;
    set(userIds: readonly string[]): Promise<string[]>;
  };
  lastError(): { code: string; message: string } | null;
  /** Stops the session, closes the socket, removes listeners, frees the WASM object. */
  close(): void;
}

export declare function createPresenceClient(options: PresenceClientOptions): PresenceClient;
export declare function loadCore(options?: { moduleUrl?: string; moduleOptions?: object }): Promise<PresenceCore>;
export declare function setCore(core: PresenceCore): void;
export declare function createStore(initialState?: ConnectionState): WritableStore;
export declare function normalizeView(raw: object): View;
export declare function unknownView(userId: string): View;
/** The page inputs trackBrowser forwards DOM events to; the core decides what they mean. */
export interface PageInputs {
  visibility(visible: boolean): void;
  focus(focused: boolean): void;
  input(): void;
  pageHide(persisted: boolean): void;
  pageShow(persisted: boolean): void;
  network(online: boolean): void;
}
export declare function trackBrowser(
  page: PageInputs,
  options?: {
    document?: Document | EventTarget;
    window?: Window | EventTarget;
    now?: () => number;
  },
): () => void;
