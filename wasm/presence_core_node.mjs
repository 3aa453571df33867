// Loads presence_core.mjs + presence_core.wasm in Node.
//
// The module is built with -sENVIRONMENT=web so one pair of files serves the
// browser and Node alike; Emscripten 3.1.6's own Node path cannot load an ES6
// module (it uses __dirname, then fetch() on a file URL). Handing it the
// bytes as `wasmBinary` skips both.
//
//   import loadPresenceCore from './wasm/presence_core_node.mjs';
//   const core = await loadPresenceCore('build/wasm/wasm');
//   const session = core.ClientSession.create('{"seed":1}');

import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

// `dir` holds presence_core.mjs and presence_core.wasm; it defaults to
// $PRESENCE_WASM_DIR, which the ctest entries set to the build output.
export default async function loadPresenceCore(
  dir = process.env.PRESENCE_WASM_DIR,
  options = {},
) {
  if (!dir) {
    throw new Error('loadPresenceCore: pass the build folder or set PRESENCE_WASM_DIR');
  }
  const root = resolve(dir);
  const { default: createPresenceCore } = await import(
    pathToFileURL(join(root, 'presence_core.mjs')).href
  );
  const wasmBinary = await readFile(join(root, 'presence_core.wasm'));
  return createPresenceCore({ wasmBinary, ...options });
}
