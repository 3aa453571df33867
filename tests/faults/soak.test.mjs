// A bounded soak: PRESENCE_SOAK_MS (default 60 s) of churn against one
// server — connects, clean closes, abrupt drops, resumes, status and
// activity, subscribe/unsubscribe, settings and contacts over HTTP — then
// everything closes. Server RSS and open fds are read from /proc at the
// start, through the run and at the end: they must come back flat, and the
// hub must hold nothing. docs/faults.md has the long run.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, test } from 'node:test';

import { metricValue, metrics, startServer } from '../server/harness.mjs';
import { churn, openFds, procStatus, report, waitUntil } from './fault_harness.mjs';

const SOAK_MS = Number(process.env.PRESENCE_SOAK_MS ?? 60000);
const USERS = 150;
const TARGET_LIVE = 200;  // sockets open at a time, on average

describe(`soak: ${SOAK_MS / 1000} s of churn`, () => {
  let server;
  let leftSockets = -1;  // presence_ws_sockets after the soak (-1: not measured)
  let moved = 0;  // sockets the server closed with 4409
  before(async () => {
    server = await startServer({ pingMs: 500, timeoutMs: 4000, heartbeatMs: 1000, leaveGraceMs: 300, activityTtlMs: 500, flushMs: 20 });
  });
  after(async () => { await server?.stop(); });

  test('RSS and fds are flat at the end and the hub holds nothing', async (t) => {
    const pid = server.pid();
    const users = Array.from({ length: USERS }, (_, i) => `soak${i}`);
    const idle = { fds: openFds(pid), rssKiB: procStatus(pid).rssKiB };
    const samples = [];
    let churnEnd;
    const { counts } = await churn({
      pickServer: () => server,
      users,
      durationMs: SOAK_MS,
      targetLive: TARGET_LIVE,
      sample: (at, sockets) => {
        const s = { at, rssKiB: procStatus(pid).rssKiB, fds: openFds(pid), sockets };
        if (at === 'end') churnEnd = s;
        else samples.push(s);
      },
    });
    const churnEndAt = Date.now();
    // Dropped sockets are found dead by pings (2 x 500 ms); graces, TTLs
    // and flushes run out within a few seconds.
    // The hub's gauges must all reach 0. The server's socket gauge is
    // waited for apart (at most 20 s: the close deadline is 5 s), so that
    // a socket left open after a 4409 close is counted and reported by the
    // test below rather than hidden behind a timeout (docs/faults.md).
    const GAUGES = ['presence_connections', 'presence_sessions', 'presence_users_loaded', 'presence_subscription_edges'];
    let gauges = '';
    const text = await waitUntil(async () => {
      const m = await metrics(server);
      gauges = [...GAUGES, 'presence_ws_sockets'].map((g) => `${g}=${metricValue(m, g)}`).join(' ');
      return GAUGES.every((g) => metricValue(m, g) === 0) && (metricValue(m, 'presence_ws_sockets') === 0 || Date.now() - churnEndAt > 20000) && m;
    }, 40000, 'every gauge back to 0').catch((e) => {
      // PRESENCE_SOAK_LOG=FILE keeps the whole server log for the hunt.
      if (process.env.PRESENCE_SOAK_LOG) fs.writeFileSync(process.env.PRESENCE_SOAK_LOG, server.logs);
      throw new Error(`${e.message}: ${gauges}; server fds ${openFds(pid)} (idle ${idle.fds})\nserver log tail:\n${server.logs.slice(-3000)}`);
    });
    leftSockets = metricValue(text, 'presence_ws_sockets');
    moved = (server.logs.match(/closing websocket \d+ with 4409/g) ?? []).length;
    if (leftSockets > 0 && process.env.PRESENCE_SOAK_LOG) fs.writeFileSync(process.env.PRESENCE_SOAK_LOG, server.logs);
    // HTTP keep-alive sockets close once fetch's pool lets them go idle.
    await waitUntil(() => openFds(pid) <= idle.fds, 20000, `fds back to idle (${idle.fds}, have ${openFds(pid)})`).catch(() => {});
    const end = { fds: openFds(pid), rssKiB: procStatus(pid).rssKiB };
    const warm = samples[Math.min(2, samples.length - 1)];  // past the allocator's warm-up
    report(t, `soak: ${SOAK_MS / 1000} s, ${counts.connects} connects, ${counts.closes} clean closes, ${counts.drops} abrupt drops, ${counts.vanished} vanished peers, ${counts.frames} frames, ${counts.http} HTTP writes, ${counts.errors} failed ops; dead found ${metricValue(text, 'presence_dead_connections_total')}`);
    report(t, `soak: server RSS KiB idle ${idle.rssKiB}, at ${warm.at} ms ${warm.rssKiB} (${warm.sockets} sockets), end of churn ${churnEnd.rssKiB} (${churnEnd.sockets} sockets), all closed ${end.rssKiB}`);
    report(t, `soak: server fds idle ${idle.fds}, at ${warm.at} ms ${warm.fds}, end of churn ${churnEnd.fds}, all closed ${end.fds}; websockets left open ${leftSockets} (after ${moved} closes 4409)`);
    report(t, `soak: samples ${samples.map((s) => `${Math.round(s.at / 1000)}s:${s.rssKiB}KiB/${s.fds}fd`).join(' ')}`);

    assert.ok(counts.connects > 200 && counts.drops > 20 && counts.closes > 20 && counts.vanished > 5, `too little churn: ${JSON.stringify(counts)}`);
    // The vanished peers were found dead by the ping layer, not by a FIN.
    assert.ok(metricValue(text, 'presence_dead_connections_total') >= Math.min(counts.vanished, 5), 'vanished peers found dead by pings');
    // Every socket, SQLite handle and timer fd is released: back to idle.
    assert.ok(end.fds <= idle.fds, `fds not released: idle ${idle.fds}, end ${end.fds}, sockets left ${leftSockets}`);
    if (!server.sanitized()) {
      // Flat: the end of the churn holds no more than the warmed-up run
      // did at the same load plus a margin for allocator fragmentation.
      const growth = churnEnd.rssKiB - warm.rssKiB;
      assert.ok(growth < Math.max(8192, warm.rssKiB * 0.25), `RSS grew ${growth} KiB during the soak (${warm.rssKiB} -> ${churnEnd.rssKiB})`);
      assert.ok(end.rssKiB <= churnEnd.rssKiB + 4096, `RSS grew after everything closed: ${churnEnd.rssKiB} -> ${end.rssKiB}`);
    }
  });

  // Once a known bug (docs/faults.md: about 1 socket in 3 500 connects
  // stayed open after a 4409 close); fixed by ForceClose posting Gone().
  test('no websocket stays open after its session moved to another socket (4409)', () => {
    assert.ok(moved > 0, 'the soak closed no socket with 4409: the case was not exercised');
    assert.equal(leftSockets, 0, `${leftSockets} websocket(s) still open after the soak (${moved} closes 4409)`);
  });
});
