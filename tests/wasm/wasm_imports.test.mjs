// What presence_core.wasm imports from its host: the heap-growth notice and
// proc_exit (reached only by abort), nothing else. No files, clocks, sockets
// or environment: nothing platform-specific leaks into the core (quinn's wasm
// job does the same check). And what it exports: the C ABI of
// wasm/bindings.cc, malloc/free and the runtime's own few.

import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, test } from 'node:test';

const dir = process.env.PRESENCE_WASM_DIR;
let module;
let glue;
before(async () => {
  assert.ok(dir, 'PRESENCE_WASM_DIR is not set');
  module = new WebAssembly.Module(await readFile(join(dir, 'presence_core.wasm')));
  glue = await readFile(join(dir, 'presence_core.mjs'), 'utf8');
});

const ALLOWED = [
  'env.emscripten_notify_memory_growth',
  'wasi_snapshot_preview1.proc_exit',
];

test('imports => the heap-growth notice and abort, nothing else', () => {
  const imports = WebAssembly.Module.imports(module);
  const unexpected = imports.filter((i) => i.kind !== 'function' || !ALLOWED.includes(`${i.module}.${i.name}`));
  assert.deepEqual(unexpected, []);
  // The JS half provides each of them.
  for (const i of imports) assert.match(glue, new RegExp(`\\b${i.name}\\b`));
});

test('imports => no files, clock, sockets or environment', () => {
  const forbidden = /fd_|clock|time|environ|socket|syscall|random|args_/i;
  assert.deepEqual(WebAssembly.Module.imports(module).filter((i) => forbidden.test(i.name)), []);
});

test('exports => memory, the pc_ entry points, malloc and the runtime, no more', () => {
  const exports = WebAssembly.Module.exports(module);
  assert.equal(exports.filter((e) => e.kind === 'memory').length, 1);
  const runtime = new Set(['memory', '__indirect_function_table', '_initialize', '__errno_location',
    'malloc', 'free', 'stackSave', 'stackRestore', 'stackAlloc']);
  const other = exports.filter((e) => !runtime.has(e.name) && !e.name.startsWith('pc_'));
  assert.deepEqual(other, []);
  // Every pc_ export the JS half calls exists, and none is left unused.
  const used = new Set(glue.match(/\bpc_[a-z_]+/g));
  const exported = new Set(exports.filter((e) => e.name.startsWith('pc_')).map((e) => e.name));
  assert.deepEqual([...used].sort(), [...exported].sort());
});
