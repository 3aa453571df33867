// Cluster-mode helpers shared by tests/server/cluster.test.mjs and the
// cluster fault suite (tests/faults/cluster.test.mjs): a real redis-server
// on 127.0.0.1 and a free port, /healthz polling, and redis-cli for
// looking at what the nodes left in Redis.

import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

import { http, sleep } from './harness.mjs';

const REDIS_BIN = process.env.REDIS_SERVER_BIN ?? 'redis-server';
const REDIS_CLI = process.env.REDIS_CLI_BIN ?? 'redis-cli';

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

export function canConnect(port) {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}

// redis-server on 127.0.0.1:port with an AOF fsynced on every write in a
// temp dir: a SIGKILL loses nothing, as an operator's `appendfsync
// everysec` loses at most a second. `password` turns on requirepass (the
// URL then carries it); `extraArgs` go to redis-server as they are.
export async function startRedis({ password, extraArgs = [] } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'presence-redis-'));
  const port = await freePort();
  const auth = password ? `:${encodeURIComponent(password)}@` : '';
  const redis = {
    port, dir, proc: null, logs: '', password,
    url: `redis://${auth}127.0.0.1:${port}`,
    async start() {
      const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir,
        '--save', '', '--appendonly', 'yes', '--appendfsync', 'always', '--protected-mode', 'no'];
      if (password) args.push('--requirepass', password);
      const proc = spawn(REDIS_BIN, [...args, ...extraArgs], { stdio: ['ignore', 'pipe', 'pipe'] });
      redis.proc = proc;
      proc.stdout.on('data', (d) => { redis.logs += d; });
      proc.stderr.on('data', (d) => { redis.logs += d; });
      redis.exited = new Promise((r) => proc.on('exit', r));
      const until = Date.now() + 10000;
      while (Date.now() < until) {
        if (await canConnect(port)) return;
        if (proc.exitCode !== null) break;
        await sleep(20);
      }
      throw new Error(`redis-server did not start:\n${redis.logs}`);
    },
    async kill9() {
      if (!redis.proc || redis.proc.exitCode !== null) return;
      redis.proc.kill('SIGKILL');
      await redis.exited;
    },
    // One redis-cli command; its stdout lines (--no-raw off: plain values).
    cli(...args) {
      const pre = ['-h', '127.0.0.1', '-p', String(port)];
      const env = { ...process.env };
      if (password) env.REDISCLI_AUTH = password;
      const r = spawnSync(REDIS_CLI, [...pre, ...args], { encoding: 'utf8', env });
      if (r.status !== 0) throw new Error(`redis-cli ${args.join(' ')}: ${r.stderr}`);
      return r.stdout.split('\n').filter((l) => l !== '');
    },
  };
  process.on('exit', () => {
    try { redis.proc?.kill('SIGKILL'); } catch { /* gone */ }
    fs.rmSync(dir, { recursive: true, force: true });
  });
  await redis.start();
  return redis;
}

export async function healthz(node) {
  try {
    return await http(node, 'GET', '/healthz');
  } catch (e) {
    return { status: 0, json: undefined, error: e };
  }
}

// Resolves with the time at which every node answers /healthz with `want`.
export async function waitHealth(nodes, want, timeoutMs = 10000) {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const codes = await Promise.all(nodes.map(async (n) => (await healthz(n)).status));
    if (codes.every((c) => c === want)) return Date.now();
    if (Date.now() > until) throw new Error(`/healthz ${codes} after ${timeoutMs} ms, want ${want}`);
    await sleep(25);
  }
}

// Runs `fn`; if it fails, the nodes' logs go to stderr (the ctest log)
// so a failure on a loaded machine can be read afterwards.
export async function withLogs(nodes, fn) {
  try {
    return await fn();
  } catch (e) {
    for (const n of nodes) process.stderr.write(`--- node :${n.port} log:\n${n.logs}\n`);
    throw e;
  }
}
