// Loads presence_core.mjs + presence_core.wasm in Node.
//
// One pair of files serves the browser and Node alike: in Node the module
// cannot fetch() its .wasm from a file URL, so this loader reads the bytes
// and hands them over as `wasmBinary`.
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
