// DOM wiring: page visibility, focus, input idleness, pagehide and network
// events turned into client inputs. Nothing here runs at import time; the
// listeners exist only while a client with a document is open.

const INPUT_EVENTS = ['pointerdown', 'pointermove', 'keydown', 'wheel', 'touchstart', 'scroll'];

/**
 * Attaches the browser listeners to `client`. Returns a function that
 * removes every listener and timer. A no-op where there is no document.
 *
 * @param {{setStatus(s: string): boolean, handleNetwork(online: boolean): void}} client
 */
export function trackBrowser(client, options = {}) {
  const doc = options.document ?? (typeof document !== 'undefined' ? document : undefined);
  const win = options.window ?? (typeof window !== 'undefined' ? window : undefined);
  if (!doc) return () => {};
  const idleMs = options.idleMs ?? 300000;
  const now = options.now ?? Date.now;
  const setTimer = options.setTimeout ?? setTimeout;
  const clearTimer = options.clearTimeout ?? clearTimeout;

  let hidden = doc.visibilityState === 'hidden';
  let blurred = typeof doc.hasFocus === 'function' ? !doc.hasFocus() && !hidden : false;
  let idle = false;
  let lastInput = now();
  let idleTimer = null;
  let last = null;

  function apply() {
    const status = hidden || blurred || idle ? 'away' : 'online';
    if (status !== last) {
      last = status;
      client.setStatus(status);
    }
  }

  // One timer: it fires at lastInput + idleMs and re-arms for the remainder
  // if input came meanwhile (no clearTimeout per mouse move).
  function armIdle(delay) {
    if (idleTimer !== null || !(idleMs > 0)) return;
    idleTimer = setTimer(() => {
      idleTimer = null;
      const left = lastInput + idleMs - now();
      if (left > 0) return armIdle(left);
      idle = true;
      apply();
    }, delay);
  }

  const onVisibility = () => {
    hidden = doc.visibilityState === 'hidden';
    if (!hidden) {
      blurred = false;
      idle = false;
      lastInput = now();
      armIdle(idleMs);
    }
    apply();
  };
  const onBlur = () => {
    blurred = true;
    apply();
  };
  const onFocus = () => {
    blurred = false;
    hidden = false;
    idle = false;
    lastInput = now();
    armIdle(idleMs);
    apply();
  };
  const onInput = () => {
    lastInput = now();
    if (idle) {
      idle = false;
      apply();
    }
    armIdle(idleMs);
  };
  const onPageHide = () => {
    last = 'offline';
    client.setStatus('offline'); // best effort: sent at once if connected
  };
  const onPageShow = (event) => {
    if (event && event.persisted) {
      last = null;
      apply();
    }
  };
  const onOnline = () => client.handleNetwork(true);
  const onOffline = () => client.handleNetwork(false);

  const target = win ?? doc;
  const added = [];
  const listen = (t, type, fn, opts) => {
    if (!t || typeof t.addEventListener !== 'function') return;
    t.addEventListener(type, fn, opts);
    added.push(() => t.removeEventListener(type, fn, opts));
  };
  listen(doc, 'visibilitychange', onVisibility);
  listen(win, 'blur', onBlur);
  listen(win, 'focus', onFocus);
  for (const type of INPUT_EVENTS) listen(target, type, onInput, { passive: true, capture: true });
  listen(win, 'pagehide', onPageHide);
  listen(win, 'pageshow', onPageShow);
  listen(win, 'online', onOnline);
  listen(win, 'offline', onOffline);

  armIdle(idleMs);
  if (hidden || blurred) apply();
  else last = 'online'; // the session starts online; nothing to send

  return () => {
    for (const remove of added) remove();
    added.length = 0;
    if (idleTimer !== null) clearTimer(idleTimer);
    idleTimer = null;
  };
}
