// A fresh app (not the demo) that installed @presence/web as a package and
// renders 1 000 followed users with usePresence / useBulkPresence. The 1 000
// are scripted sockets; the page must show every one of them right.
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { test, expect, names, scriptedUser, screenshotPath, artifacts } from './support.mjs';

const N = 1000;

test('a fresh app following 1 000 users shows each one right, and follows their changes', async ({ browser, server }, testInfo) => {
  test.setTimeout(120_000);
  const { u, watcher } = names(testInfo, 'u', 'watcher');
  const prefix = `${u}.`;
  // 0..599 online, 600..799 away, 800..899 came and left (offline with a
  // last seen), 900..999 never seen here (unknown: not claimed offline).
  const connect = async (from, to, status) => {
    const out = [];
    for (let i = from; i < to; i += 50) {
      const batch = [];
      for (let j = i; j < Math.min(to, i + 50); j++) batch.push(scriptedUser(server, `${prefix}${j}`, { status }));
      out.push(...(await Promise.all(batch)));
    }
    return out;
  };
  for (const ws of await connect(800, 900, 'online')) ws.close();
  const sockets = [...(await connect(0, 600, 'online')), ...(await connect(600, 800, 'away'))];
  const expected = (i) => (i < 600 ? 'online' : i < 800 ? 'away' : i < 900 ? 'offline' : 'unknown');

  const page = await (await browser.newContext()).newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(`${server.http}/fresh/?user=${watcher}&follow=${N}&prefix=${encodeURIComponent(prefix)}`);
  const summary = page.locator('#summary');
  await expect(summary).toHaveAttribute('data-online', '600', { timeout: 20_000 });
  await expect(summary).toHaveAttribute('data-away', '200');
  await expect(summary).toHaveAttribute('data-offline', '100');
  await expect(summary).toHaveAttribute('data-unknown', '100');
  const shown = await page.$$eval('li[data-user]', (lis) => lis.map((li) => [li.dataset.user, li.dataset.status]));
  expect(shown.length).toBe(N);
  const wrong = shown.filter(([id, status]) => status !== expected(Number(id.slice(prefix.length))));
  expect(wrong).toEqual([]);
  await page.screenshot({ path: screenshotPath('fresh-app-1000') });

  // 100 of the online ones go away, 100 others leave: one bulk or a few.
  for (let i = 0; i < 100; i++) sockets[i].send(JSON.stringify({ type: 'presence', status: 'away' }));
  for (let i = 100; i < 200; i++) sockets[i].send(JSON.stringify({ type: 'presence', status: 'offline' }));
  await expect(summary).toHaveAttribute('data-online', '400');
  await expect(summary).toHaveAttribute('data-away', '300');
  await expect(summary).toHaveAttribute('data-offline', '200');
  expect(errors).toEqual([]);

  const metrics = await page.evaluate(() => window.presence.metrics);
  const bulks = metrics.frames.filter((f) => f.views > 0);
  const biggest = bulks.reduce((a, f) => (f.views > a.views ? f : a), { views: 0, ms: 0, bytes: 0 });
  const applied = bulks.reduce((n, f) => n + f.views, 0);
  const report = {
    connectMs: Math.round(metrics.connectMs),
    bulkFrames: bulks.length,
    viewsApplied: applied,
    largestBulk: { views: biggest.views, bytes: biggest.bytes, applyMs: Number(biggest.ms.toFixed(2)) },
    applyMsTotal: Number(bulks.reduce((t, f) => t + f.ms, 0).toFixed(2)),
  };
  writeFileSync(resolve(artifacts, 'fresh-app-metrics.json'), JSON.stringify(report, null, 2));
  console.log(`fresh app: ${JSON.stringify(report)}`);
  expect(metrics.connectMs).toBeGreaterThan(0);
  expect(applied).toBeGreaterThanOrEqual(N);
  for (const ws of sockets) ws.close();
});
