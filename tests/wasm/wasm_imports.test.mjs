// What presence_core.wasm imports from its host: only embind's glue and the
// heap. No files, clocks, sockets or environment: nothing platform-specific
// leaks into the core (quinn's wasm job does the same check).

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

// At -O2 and above Emscripten minifies import names; the glue's table
// (`asmLibraryArg={"a":_abort,...}`) maps them back to the JS functions.
function importNames() {
  const table = glue.match(/asmLibraryArg\s*=\s*\{([^}]*)\}/);
  assert.ok(table, 'no asmLibraryArg table in presence_core.mjs');
  const names = new Map();
  for (const entry of table[1].split(',')) {
    const [key, value] = entry.split(':');
    names.set(key.trim().replace(/^"|"$/g, ''), value.trim());
  }
  return WebAssembly.Module.imports(module).map((i) => {
    const name = names.get(i.name) ?? i.name;
    return { module: i.module, kind: i.kind, name };
  });
}

const ALLOWED = [
  /^__embind_register_[a-z_0-9]+$/,
  /^__emval_[a-z_0-9]+$/,
  /^_abort$/,
  /^_emscripten_memcpy_big$/,
  /^_emscripten_resize_heap$/,
];

test('imports => embind glue, abort and heap growth only', () => {
  const imports = importNames();
  assert.ok(imports.length > 0);
  const unexpected = imports.filter(({ kind, name }) =>
    kind !== 'function' || !ALLOWED.some((re) => re.test(name)));
  assert.deepEqual(unexpected, []);
  const names = imports.map((i) => i.name);
  assert.ok(names.includes('__embind_register_class'), 'embind is linked');
  assert.ok(names.includes('_emscripten_resize_heap'), 'memory can grow');
});

test('imports => no WASI, files, clock, sockets or environment', () => {
  const forbidden = /fd_|clock|time|environ|socket|syscall|random|proc_exit|args_/i;
  const found = importNames().filter(({ module: m, name }) =>
    m.startsWith('wasi') || forbidden.test(name));
  assert.deepEqual(found, []);
});

test('exports => memory, the embind entry points and malloc, no more', () => {
  const exports = WebAssembly.Module.exports(module);
  assert.equal(exports.filter((e) => e.kind === 'memory').length, 1);
  assert.ok(exports.length <= 12, `${exports.length} exports`);
});
