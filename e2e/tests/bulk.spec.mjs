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
  const subscribeFrames = [];
  page.on('websocket', (ws) =>
    ws.on('framesent', ({ payload }) => {
      if (String(payload).includes('"presence_subscribe"')) subscribeFrames.push(JSON.parse(String(payload)));
    }),
  );
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

  // useBulkPresence follows the set of ids, not the array: one subscribe
  // for the 1 000, none when the app re-renders with a new array of them.
  expect(subscribeFrames.length).toBe(1);
  expect(subscribeFrames[0].userIds.length).toBe(N);
  const summaryRenders = await page.evaluate(() => window.presence.metrics.summaryRenders);
  await page.locator('#rerender').click();
  await expect.poll(() => page.evaluate(() => window.presence.metrics.summaryRenders)).toBeGreaterThan(summaryRenders);
  await page.waitForTimeout(300);
  expect(subscribeFrames.length).toBe(1);
  const rendersBefore = await page.evaluate(() => ({ ...window.presence.metrics.renders }));

  // 100 of the online ones go away, 100 others leave: one bulk or a few.
  for (let i = 0; i < 100; i++) sockets[i].send(JSON.stringify({ type: 'presence', status: 'away' }));
  for (let i = 100; i < 200; i++) sockets[i].send(JSON.stringify({ type: 'presence', status: 'offline' }));
  await expect(summary).toHaveAttribute('data-online', '400');
  await expect(summary).toHaveAttribute('data-away', '300');
  await expect(summary).toHaveAttribute('data-offline', '200');
  expect(errors).toEqual([]);

  // A row re-renders only when its own user's view changed.
  const rendersAfter = await page.evaluate(() => window.presence.metrics.renders);
  const rerendered = Object.keys(rendersAfter).filter((id) => rendersAfter[id] !== rendersBefore[id]);
  const changed = Array.from({ length: 200 }, (_, i) => `${prefix}${i}`);
  expect(rerendered.sort()).toEqual(changed.sort());

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

test('a plain <script type=module> page uses the package unbundled and sees presence', async ({ browser, server }, testInfo) => {
  const { carol, dave } = names(testInfo, 'carol', 'dave');
  const ws = await scriptedUser(server, carol, { status: 'away' });
  const page = await (await browser.newContext()).newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(`${server.http}/plain/?user=${dave}&follow=${carol}`);
  await expect(page.locator('body')).toHaveAttribute('data-state', 'connected');
  await expect(page.locator(`li[data-user="${carol}"]`)).toHaveAttribute('data-status', 'away');
  ws.send(JSON.stringify({ type: 'presence', status: 'online' }));
  await expect(page.locator(`li[data-user="${carol}"]`)).toHaveAttribute('data-status', 'online');
  expect(errors).toEqual([]);
  ws.close();
});
