// presence_core.mjs: loads presence_core.wasm and gives it its JS API
// (docs/wasm.md). Hand-written over the module's C exports
// (wasm/bindings.cc): no Emscripten runtime, no embind. It only moves
// arguments and results across; every rule is the core's.
//
//   import createPresenceCore from './presence_core.mjs';
//   const core = await createPresenceCore();   // presence_core.wasm beside it
//   const s = core.ClientSession.create('{"device":"web"}');
//
// Options: `wasmBinary` (bytes; Node passes them, see
// presence_core_node.mjs), `locateFile(name)` (where the .wasm is).

const STATUS = ['', 'online', 'away', 'offline']; // enum + 1, as bindings.cc writes them
const DEVICE = ['', 'web', 'mobile', 'desktop'];
const STATES = ['idle', 'connecting', 'authenticating', 'connected', 'reconnecting', 'offline']; // ConnectionState
const NOT_TEXT = 'not a string or bytes';

export default async function createPresenceCore(options = {}) {
  // The heap's views, made again only when the memory grows (the module
  // says so through this import), so no read checks the buffer.
  let memory = null;
  let u8, u32, f64, input;
  // One input buffer from the module's malloc, grown on demand, reused
  // (`input` is its view).
  let at = 0;
  let size = 0;
  const refresh = () => {
    if (!memory) return;
    const b = memory.buffer;
    u8 = new Uint8Array(b);
    u32 = new Uint32Array(b);
    f64 = new Float64Array(b);
    input = u8.subarray(at, at + size);
  };
  const imports = {
    env: { emscripten_notify_memory_growth: () => refresh() },
    // Only abort reaches it: the core never exits.
    wasi_snapshot_preview1: {
      proc_exit(code) {
        throw new Error(`presence_core aborted (${code})`);
      },
    },
  };
  let source = options.wasmBinary;
  let result;
  if (source) {
    result = await WebAssembly.instantiate(source, imports);
  } else {
    const url = options.locateFile
      ? options.locateFile('presence_core.wasm', '')
      : new URL('presence_core.wasm', import.meta.url).href;
    try {
      result = await WebAssembly.instantiateStreaming(fetch(url), imports);
    } catch {
      // A server that does not say application/wasm: compile from the bytes.
      result = await WebAssembly.instantiate(await (await fetch(url)).arrayBuffer(), imports);
    }
  }
  const w = result.instance.exports;
  memory = w.memory;
  refresh();
  w._initialize();

  const encoder = new TextEncoder();
  const decoder = new TextDecoder();

  const reserve = (bytes) => {
    if (bytes > size) {
      w.free(at);
      size = Math.max(bytes, 2 * size, 4096);
      at = w.malloc(size);
      refresh();
    }
  };
  // Writes a string (UTF-8) or bytes at `to`, returns the byte length, or
  // -1 for anything else. Room for them must be reserved.
  const write = (value, to) => {
    if (typeof value === 'string') {
      // ASCII (every frame the server writes, but for text a user typed) is
      // copied by this loop: in Chromium it is about 4 times as fast as
      // encodeInto on a large frame and has no fixed cost on a small one.
      const n = value.length;
      for (let i = 0; i < n; i++) {
        const c = value.charCodeAt(i);
        if (c > 127) {
          const rest = to === at && i === 0 ? input : u8.subarray(to + i, at + size);
          return i + encoder.encodeInto(i ? value.slice(i) : value, rest).written;
        }
        u8[to + i] = c;
      }
      return n;
    }
    if (value instanceof ArrayBuffer) value = new Uint8Array(value);
    if (!(value instanceof Uint8Array)) return -1;
    u8.set(value, to);
    return value.length;
  };
  const room = (value) => (typeof value === 'string' ? 3 * value.length : value?.byteLength ?? 0);
  // One string argument at the buffer's start: its length, or -1.
  const put = (value, bytesToo) => {
    if (typeof value !== 'string' && !bytesToo) return -1;
    reserve(room(value));
    return write(value, at);
  };
  // Several strings back to back: [pointer, length, ...], or null.
  const putAll = (...values) => {
    if (values.some((v) => typeof v !== 'string')) return null;
    reserve(values.reduce((n, v) => n + room(v), 0));
    const args = [];
    let to = at;
    for (const v of values) {
      const n = write(v, to);
      args.push(to, n);
      to += n;
    }
    return args;
  };

  // The string an Out holds (bindings.cc: address, size at its start).
  const read = (out) => {
    const n = u32[(out >> 2) + 1];
    const p = u32[out >> 2];
    // Short ASCII (a state, an id) is cheaper by hand than through
    // TextDecoder, whose fixed cost is a few microseconds in Chromium.
    if (n < 24) {
      let s = '';
      for (let i = p; i < p + n; i++) {
        if (u8[i] > 127) return decoder.decode(u8.subarray(p, p + n));
        s += String.fromCharCode(u8[i]);
      }
      return s;
    }
    return decoder.decode(u8.subarray(p, p + n));
  };
  const text = (out, has) => (has ? read(out) : '');
  const shared = w.pc_out_new();

  // The binary changes of pc_poll_changes (bindings.cc WriteChanges).
  // `k`: the session's state per key (a small number the core gives each
  // subscribed user): `ids`, learnt from records with a new key, and the
  // user's current View and the one before it (`now`, `was`), each with
  // its signature (`nowSig`, `wasSig`: status, device and last seen in one
  // number; NaN for a View not to be reused). A change back to the View
  // before (a status that flips online, away, online...) gives that same
  // frozen object again instead of a new one: no allocation, no freeze.
  const readChanges = (out, k) => {
    const base = u32[out >> 2];
    const q = base >> 2;
    const nChanged = u32[q];
    const nRemoved = u32[q + 1];
    const changed = new Array(nChanged);
    const removed = new Array(nRemoved);
    if (nChanged + nRemoved === 0) return { changed, removed };
    let p = base + 16 + 16 * nChanged;
    const ids = u32[q + 2] ? decoder.decode(u8.subarray(p, (p += u32[q + 2]))).split(',') : null;
    const withActivity = u32[q + 3] ? JSON.parse(decoder.decode(u8.subarray(p, p + u32[q + 3]))) : null;
    let nextId = 0;
    let nextJson = 0;
    for (let i = 0, r = base + 16; i < nChanged; i++, r += 16) {
      const flags = u8[r + 14];
      const key = u32[(r >> 2) + 2];
      if (flags & 2) {
        // A key new to its user (or given to another user): forget the old.
        k.ids[key] = ids[nextId++];
        k.nowSig[key] = k.wasSig[key] = NaN;
      }
      let view;
      let sig = NaN;
      if (flags & 1) {
        view = withActivity[nextJson++];
        if (view.activity) Object.freeze(view.activity);
        Object.freeze(view);
      } else {
        const status = u8[r + 12];
        const device = u8[r + 13];
        const lastSeen = f64[r >> 3];
        // Exact while last seen < 2^48 (year 10889); past that, never reused.
        sig = lastSeen !== lastSeen ? -1 - status - 4 * device : lastSeen >= 0 && lastSeen < 2 ** 48 ? 16 * lastSeen + status + 4 * device : NaN;
        if (sig === k.wasSig[key]) {
          view = k.was[key];
        } else if (sig === k.nowSig[key]) {
          view = k.now[key];
        } else if (status && device) {
          // One literal per common shape (online or away; offline with a
          // last seen), so views share their hidden class.
          view = Object.freeze(
            lastSeen !== lastSeen
              ? { userId: k.ids[key], status: STATUS[status], device: DEVICE[device] }
              : { userId: k.ids[key], status: STATUS[status], lastSeen, device: DEVICE[device] },
          );
        } else {
          view = { userId: k.ids[key] };
          if (status) view.status = STATUS[status];
          if (lastSeen === lastSeen) view.lastSeen = lastSeen;
          if (device) view.device = DEVICE[device];
          Object.freeze(view);
        }
      }
      if (view !== k.now[key]) {
        k.was[key] = k.now[key];
        k.wasSig[key] = k.nowSig[key];
        k.now[key] = view;
        k.nowSig[key] = sig;
      }
      changed[i] = view;
    }
    for (let i = 0; i < nRemoved; i++) removed[i] = ids[nextId + i];
    return { changed, removed };
  };

  const parseServerFrame = (value) => {
    const n = put(value, true);
    return n < 0 ? { ok: false, error: NOT_TEXT } : JSON.parse(text(shared, w.pc_parse_server_frame(shared, at, n)));
  };

  class ClientSession {
    #h;
    #keys = { ids: [], now: [], was: [], nowSig: [], wasSig: [] };
    constructor(handle) {
      this.#h = handle;
    }
    get #s() {
      if (!this.#h) throw new Error('ClientSession: used after delete()');
      return this.#h;
    }
    /** A session, or null for an invalid config (a JSON string). */
    static create(config) {
      const n = put(config);
      const handle = n < 0 ? 0 : w.pc_create(at, n, Math.random());
      return handle ? new ClientSession(handle) : null;
    }
    delete() {
      if (this.#h) w.pc_delete(this.#h);
      this.#h = 0;
    }
    isDeleted() {
      return !this.#h;
    }
    start(now) {
      w.pc_start(this.#s, now);
    }
    stop(now) {
      w.pc_stop(this.#s, now);
    }
    setToken(token) {
      const n = put(token);
      if (n >= 0) w.pc_set_token(this.#s, at, n);
      return n >= 0;
    }
    setStatus(status, now) {
      const n = put(status);
      return n >= 0 && !!w.pc_set_status(this.#s, at, n, now);
    }
    setActivity(kind, text, now) {
      const args = putAll(kind, text ?? '');
      return !!args && !!w.pc_set_activity(this.#s, ...args, now);
    }
    startTyping(conversationId, now) {
      const n = put(conversationId);
      return n >= 0 && !!w.pc_start_typing(this.#s, at, n, now);
    }
    #ids(op, ids, now) {
      if (!Array.isArray(ids) || ids.length > 1 << 20 || ids.some((id) => typeof id !== 'string')) return false;
      // The ids back to back, then their byte lengths (4-aligned).
      const bytes = ids.reduce((n, id) => n + room(id), 0);
      reserve(bytes + 4 * ids.length + 4);
      const sizes = (at + bytes + 3) & ~3;
      let to = at;
      for (let i = 0; i < ids.length; i++) to += u32[(sizes >> 2) + i] = write(ids[i], to);
      return !!w.pc_subscriptions(this.#s, op, at, sizes, ids.length, now);
    }
    subscribe(ids, now) {
      return this.#ids(0, ids, now);
    }
    unsubscribe(ids, now) {
      return this.#ids(1, ids, now);
    }
    replaceSubscriptions(ids, now) {
      return this.#ids(2, ids, now);
    }
    handleSocketOpen(now) {
      w.pc_socket_open(this.#s, now);
    }
    /** "" when the frame was taken, else why it was ignored. */
    handleMessage(frame, now) {
      const n = put(frame, true);
      if (n < 0) return NOT_TEXT;
      return text(this.#h, w.pc_handle_message(this.#s, at, n, now));
    }
    handleSocketClose(code, now) {
      w.pc_socket_close(this.#s, code, now);
    }
    handleTimeout(now) {
      w.pc_input(this.#s, 0, 0, now);
    }
    handleUserInput(now) {
      w.pc_input(this.#s, 1, 0, now);
    }
    handleNetwork(online, now) {
      w.pc_input(this.#s, 2, online ? 1 : 0, now);
    }
    handlePageVisibility(visible, now) {
      w.pc_input(this.#s, 3, visible ? 1 : 0, now);
    }
    handlePageFocus(focused, now) {
      w.pc_input(this.#s, 4, focused ? 1 : 0, now);
    }
    handlePageHide(persisted, now) {
      w.pc_input(this.#s, 5, persisted ? 1 : 0, now);
    }
    handlePageShow(persisted, now) {
      w.pc_input(this.#s, 6, persisted ? 1 : 0, now);
    }
    /** "", "open" or "close:<code>". */
    pollAction() {
      const a = w.pc_poll_action(this.#s);
      return a === 0 ? '' : a < 0 ? 'open' : `close:${a}`;
    }
    pollTransmits() {
      w.pc_poll_transmits(this.#s);
      const frames = [];
      const base = u32[this.#h >> 2];
      for (let p = base, end = base + u32[(this.#h >> 2) + 1]; p < end; ) {
        const n = u8[p] | (u8[p + 1] << 8) | (u8[p + 2] << 16) | (u8[p + 3] << 24);
        frames.push(decoder.decode(u8.subarray(p + 4, (p += 4 + n))));
      }
      return frames;
    }
    /**
     * {changed: [View], removed: [id]} since the last poll (drains). Views
     * are frozen; one may be an object this poll gave before for the same
     * user with the same fields.
     */
    pollChanges() {
      w.pc_poll_changes(this.#s);
      return readChanges(this.#h, this.#keys);
    }
    pollChangesJson() {
      return JSON.stringify(this.pollChanges());
    }
    nextDeadline() {
      return w.pc_next_deadline(this.#s);
    }
    state() {
      return STATES[w.pc_number(this.#s, 3)];
    }
    status() {
      return text(this.#h, w.pc_text(this.#s, 1));
    }
    chosenStatus() {
      return text(this.#h, w.pc_text(this.#s, 2));
    }
    sessionId() {
      return text(this.#h, w.pc_text(this.#s, 3));
    }
    userId() {
      return text(this.#h, w.pc_text(this.#s, 4));
    }
    lastErrorJson() {
      return text(this.#h, w.pc_text(this.#s, 5));
    }
    heartbeatMs() {
      return w.pc_number(this.#s, 0);
    }
    serverOffsetMs() {
      return w.pc_number(this.#s, 1);
    }
    reconnectAttempts() {
      return w.pc_number(this.#s, 2);
    }
    getViewJson(id) {
      const n = put(id);
      return n < 0 ? '' : text(this.#h, w.pc_view_json(this.#s, at, n));
    }
  }

  return {
    ClientSession,
    MAX_FRAME_BYTES: w.pc_limit(0),
    MAX_IDS_PER_FRAME: w.pc_limit(1),
    MAX_SUBSCRIPTIONS: w.pc_limit(2),
    MAX_ID_LENGTH: w.pc_limit(3),
    MAX_TEXT_LENGTH: w.pc_limit(4),
    parseServerFrame,
    classifyLastSeen: (lastSeen, now) => JSON.parse(text(shared, w.pc_classify_last_seen(shared, lastSeen, now))),
    formatLastSeen: (lastSeen, now) => text(shared, w.pc_format_last_seen(shared, lastSeen, now)),
    approximateLastSeen: (lastSeen, now) => text(shared, w.pc_approximate_last_seen(shared, lastSeen, now)),
    isValidId(id) {
      const n = put(id);
      return n >= 0 && !!w.pc_is_valid_id(at, n);
    },
  };
}
