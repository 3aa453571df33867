// The client bench: loads the WASM client and the seed's plain-JS manager in
// headless Chromium (Debian's /usr/bin/chromium through playwright-core from
// web/node_modules; nothing is downloaded) and prints one JSON line, with the
// client's size as an app ships it (clientSize below).
//   node tools/bench/client/client_bench.mjs
import { createReadStream, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { extname, join, normalize, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const here = fileURLToPath(new URL('.', import.meta.url));
const require = createRequire(join(root, 'web/package.json'));
const { chromium } = require('playwright-core');

const TYPES = { '.html': 'text/html', '.mjs': 'text/javascript', '.js': 'text/javascript', '.wasm': 'application/wasm' };
// PRESENCE_WASM_DIR: another build of the module (flag experiments).
const wasmDir = resolve(root, process.env.PRESENCE_WASM_DIR ?? 'build/wasm/wasm');
const MOUNTS = [
  ['/web/src/', join(root, 'web/src')],
  ['/wasm/', wasmDir],
  ['/', here],
];
for (const f of ['presence_core.mjs', 'presence_core.wasm']) {
  if (!existsSync(join(wasmDir, f))) {
    console.error(`missing ${join(wasmDir, f)}: run tools/build wasm`);
    process.exit(1);
  }
}

// What a bundler ships, gzip -9: the package's JS (web/src/index.js and what
// it imports, React hooks not included) bundled and minified by esbuild, the
// module's JS half minified (the client imports it at run time, so it stays
// its own file) and the .wasm as built.
function clientSize() {
  const esbuild = require('esbuild');
  const minify = (entry, bundle) => Buffer.from(esbuild.buildSync({
    entryPoints: [entry], bundle, minify: true, format: 'esm', write: false,
    ...(bundle ? { external: ['./presence_core.mjs'] } : {}), logLevel: 'warning',
  }).outputFiles[0].contents);
  const files = [
    ['web/src/index.js (bundled, minified)', minify(join(root, 'web/src/index.js'), true)],
    ['presence_core.mjs (minified)', minify(join(wasmDir, 'presence_core.mjs'), false)],
    ['presence_core.wasm', readFileSync(join(wasmDir, 'presence_core.wasm'))],
  ].map(([file, bytes]) => ({ file, bytes: bytes.length, gzip: gzipSync(bytes, { level: 9 }).length }));
  return { files, total_gzip: files.reduce((n, f) => n + f.gzip, 0) };
}

// Self time per function (name, url:line), the 25 largest.
function printTop(profile) {
  const self = new Map();
  const dt = profile.timeDeltas;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const total = dt.reduce((a, b) => a + b, 0);
  for (let i = 0; i < profile.samples.length; i++) {
    const f = byId.get(profile.samples[i]).callFrame;
    const key = `${f.functionName || '(anon)'} ${f.url.split('/').pop()}:${f.lineNumber + 1}`;
    self.set(key, (self.get(key) ?? 0) + (dt[i] ?? 0));
  }
  const top = [...self].sort((a, b) => b[1] - a[1]).slice(0, 25);
  for (const [k, t] of top) console.error(`${((100 * t) / total).toFixed(1).padStart(5)}% ${(t / 1000).toFixed(1).padStart(8)} ms  ${k}`);
}

// BENCH_CLIENT_PHASES=1 times the client phase by phase instead (bench_page.mjs
// runPhases) in a cross-origin-isolated page, where performance.now() is
// good to 5 µs; the default run keeps the page as it was (0.1 ms timers,
// hence its 2 ms batches).
const phasesRun = process.env.BENCH_CLIENT_PHASES === '1';
const isolation = phasesRun
  ? { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' }
  : {};
const server = createServer((req, res) => {
  let path = new URL(req.url, 'http://x').pathname;
  if (path === '/') path = '/bench.html';
  for (const [prefix, dir] of MOUNTS) {
    if (!path.startsWith(prefix)) continue;
    const file = normalize(join(dir, path.slice(prefix.length)));
    if (!file.startsWith(dir) || !existsSync(file)) break;
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', ...isolation });
    createReadStream(file).pipe(res);
    return;
  }
  res.writeHead(404).end();
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
let code = 0;
try {
  const page = await browser.newPage();
  page.on('pageerror', (e) => console.error('pageerror:', e.message));
  await page.goto(`http://127.0.0.1:${server.address().port}/`);
  await page.waitForFunction(() => window.benchReady === true, null, { timeout: 30000 });
  // BENCH_CLIENT_SIZES=10,1000 runs some sizes; BENCH_CLIENT_PROFILE=file
  // writes a V8 CPU profile of the run (chrome://inspect or speedscope) and
  // prints the top functions by self time.
  const sizes = (process.env.BENCH_CLIENT_SIZES ?? '10,1000,10000').split(',').map(Number);
  const profileFile = process.env.BENCH_CLIENT_PROFILE;
  let cdp = null;
  if (profileFile) {
    cdp = await page.context().newCDPSession(page);
    await cdp.send('Profiler.enable');
    await cdp.send('Profiler.setSamplingInterval', { interval: 50 });
    await cdp.send('Profiler.start');
  }
  // BENCH_CLIENT_FRESH=1: frames whose Views are all new (bench_page.mjs).
  const fresh = process.env.BENCH_CLIENT_FRESH === '1';
  if (phasesRun) {
    const phases = await page.evaluate(([s, f]) => window.runPhases(s, f), [sizes, fresh]);
    console.log(JSON.stringify({ system: 'client', workload: fresh ? 'client_phases_fresh' : 'client_phases', chromium: browser.version(), phases }, null, 1));
    await browser.close();
    server.close();
    process.exit(0);
  }
  const results = await page.evaluate(([s, f]) => window.runBench(s, f), [sizes, fresh]);
  if (cdp) {
    const { profile } = await cdp.send('Profiler.stop');
    writeFileSync(profileFile, JSON.stringify(profile));
    printTop(profile);
  }
  for (const r of results) {
    console.error(`client ${r.users} users: wasm ${r.wasm_ms.toFixed(3)} ms (min ${r.wasm_min_ms.toFixed(3)}), seed js ${r.js_ms.toFixed(3)} ms (min ${r.js_min_ms.toFixed(3)}), ${r.calls_per_frame} calls into WASM per frame`);
  }
  const size = clientSize();
  console.error(`client size: ${size.files.map((f) => `${f.file} ${f.gzip} B`).join(', ')}; total ${size.total_gzip} B gzipped`);
  console.log(JSON.stringify({ system: 'client', workload: fresh ? 'client_fresh' : 'client', chromium: browser.version(), results, size }));
} catch (e) {
  console.error('client bench failed:', e.message);
  code = 1;
} finally {
  await browser.close();
  server.close();
}
process.exit(code);
