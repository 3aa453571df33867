// @presence/web: the browser client of Presence on the WASM core.
export { createPresenceClient, loadCore, setCore } from './client.js';
export { createStore, PresenceSnapshot, normalizeView, unknownView } from './store.js';
export { trackBrowser } from './browser.js';
