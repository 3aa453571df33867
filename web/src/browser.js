// DOM wiring: page visibility, focus, input, pagehide/pageshow and network
// events forwarded to the core. The core decides what they mean (away when
// hidden, blurred or idle; see core/include/presence/attention.h); nothing
// here keeps presence state. Nothing runs at import time; the listeners exist
// only while a client with a document is open.

const INPUT_EVENTS = ['pointerdown', 'pointermove', 'keydown', 'wheel', 'touchstart', 'scroll'];

// The core needs input times only to the second (idleness is minutes), so
// a burst of mouse moves crosses into WASM once a second, not per event.
const INPUT_FORWARD_MS = 1000;

/**
 * Attaches the browser listeners and forwards them to `page`, the client's
 * page inputs. Reports the page's current visibility and focus at once.
 * Returns a function that removes every listener. A no-op without a document.
 *
 * @param {{visibility(visible: boolean): void, focus(focused: boolean): void,
 *          input(): void, pageHide(persisted: boolean): void,
 *          pageShow(persisted: boolean): void, network(online: boolean): void}} page
 */
export function trackBrowser(page, options = {}) {
  const doc = options.document ?? (typeof document !== 'undefined' ? document : undefined);
  const win = options.window ?? (typeof window !== 'undefined' ? window : undefined);
  if (!doc) return () => {};
  const now = options.now ?? Date.now;

  let lastForward = -Infinity;
  const onInput = () => {
    const t = now();
    if (t - lastForward < INPUT_FORWARD_MS) return;
    lastForward = t;
    page.input();
  };
  const onVisibility = () => {
    lastForward = -Infinity;
    page.visibility(doc.visibilityState !== 'hidden');
  };
  const onFocus = () => page.focus(true);
  const onBlur = () => page.focus(false);
  const onPageHide = (event) => page.pageHide(!!event?.persisted);
  const onPageShow = (event) => page.pageShow(!!event?.persisted);
  const onOnline = () => page.network(true);
  const onOffline = () => page.network(false);

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

  // Where the page stands now. A page that is shown counts as looked at:
  // its idle clock starts here.
  const visible = doc.visibilityState !== 'hidden';
  page.visibility(visible);
  if (visible && typeof doc.hasFocus === 'function' && !doc.hasFocus()) page.focus(false);
  if (win && win.navigator && win.navigator.onLine === false) page.network(false);

  return () => {
    for (const remove of added) remove();
    added.length = 0;
  };
}
