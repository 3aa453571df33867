// Test helpers: the real presence-server and the real WASM core.
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { resolve, dirname } from 'node:path';
import { existsSync } from 'node:fs';

const here = dirname(fileURLToPath(import.meta.url));
export const root = resolve(here, '../..');
export const serverBin =
  process.env.PRESENCE_SERVER_BIN ??
  [resolve(root, 'build/native/server/presence-server'), resolve(root, 'build/lead/server/presence-server')].find(
    existsSync,
  );
export const wasmDir = process.env.PRESENCE_WASM_DIR ?? resolve(root, 'build/wasm/wasm');

export async function loadTestCore() {
  const { default: load } = await import(resolve(root, 'wasm/presence_core_node.mjs'));
  return load(wasmDir);
}

export function freePort() {
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', fail);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => ok(port));
    });
  });
}

export const SECRET = 'test-secret-web';

export async function startServer(port, extra = []) {
  const args = [
    '--host', '127.0.0.1', '--port', String(port), '--db', ':memory:', '--jwt-secret', SECRET, '--dev',
    '--flush-ms', '20', '--activity-ttl-ms', '3000', '--leave-grace-ms', '1000',
    '--heartbeat-ms', '2000', '--ping-ms', '1000', '--timeout-ms', '5000', '--log-level', 'error',
    ...extra,
  ];
  for (let attempt = 0; ; attempt++) {
    const proc = spawn(serverBin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    proc.stderr.on('data', (d) => (stderr += d));
    const line = await new Promise((ok) => {
      const rl = createInterface({ input: proc.stdout });
      rl.once('line', (l) => ok(l));
      proc.once('exit', () => ok(null));
    });
    if (line && line.startsWith('listening on ')) {
      proc.stdout.resume();
      return { proc, url: line.slice('listening on '.length).trim() };
    }
    // The port may still be held a moment after a kill: retry briefly.
    if (attempt >= 20) throw new Error(`server did not start: ${line} ${stderr}`);
    await sleep(100);
  }
}

export function killServer(server, signal = 'SIGKILL') {
  return new Promise((ok) => {
    if (server.proc.exitCode !== null || server.proc.signalCode !== null) return ok();
    server.proc.once('exit', () => ok());
    server.proc.kill(signal);
  });
}

export async function devToken(httpUrl, userId) {
  const res = await fetch(`${httpUrl}/api/dev/token`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ userId }),
  });
  if (!res.ok) throw new Error(`dev token ${res.status}`);
  return (await res.json()).token;
}

export const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));

/** Resolves when `predicate()` is truthy, checked on every store change and every 50 ms. */
export function waitFor(client, predicate, timeoutMs = 5000, what = 'condition') {
  return new Promise((ok, fail) => {
    let done = false;
    const check = () => {
      if (done) return;
      let value;
      try {
        value = predicate();
      } catch {}
      if (value) finish(null, value);
    };
    const finish = (error, value) => {
      done = true;
      clearInterval(poll);
      clearTimeout(limit);
      off();
      error ? fail(error) : ok(value);
    };
    const off = client.subscribe(check);
    const poll = setInterval(check, 50);
    const limit = setTimeout(() => finish(new Error(`timed out waiting for ${what}`)), timeoutMs);
    check();
  });
}
