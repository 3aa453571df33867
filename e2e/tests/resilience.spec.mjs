// What breaks, and what a person sees: the server dies and comes back; one
// person has two tabs.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  test, expect, names, setContacts, openDemo, contactRow, setHidden, fireWindow, screenshotPath, startServer,
  stopServer, freePort,
} from './support.mjs';

test('the server is killed and restarted => every page shows the banner, reconnects and restores presence without a reload', async ({ browser }, testInfo) => {
  const dir = mkdtempSync(join(tmpdir(), 'presence-e2e-'));
  const port = await freePort();
  const db = ['--db', join(dir, 'presence.db')];
  let server = await startServer(port, db);
  try {
    const { alice, bob } = names(testInfo, 'alice', 'bob');
    await setContacts(server, alice, [bob]);
    await setContacts(server, bob, [alice]);
    const b = await openDemo(await browser.newContext(), server, bob);
    const a = await openDemo(await browser.newContext(), server, alice);
    await expect(contactRow(b.page, alice)).toHaveAttribute('data-status', 'online');
    await setHidden(a.page, true);
    await expect(contactRow(b.page, alice)).toHaveAttribute('data-status', 'away');
    const navigations = { a: 0, b: 0 };
    a.page.on('framenavigated', () => navigations.a++);
    b.page.on('framenavigated', () => navigations.b++);

    await stopServer(server, 'SIGKILL');
    await expect(b.page.locator('.banner')).toHaveText(/Reconnecting/);
    await expect(a.page.locator('.banner')).toHaveText(/Reconnecting/);
    await b.page.screenshot({ path: screenshotPath('demo-reconnecting') });
    const restarted = Date.now();
    server = await startServer(port, db);

    await expect(b.page.locator('.banner')).toHaveCount(0, { timeout: 20_000 });
    await expect(a.page.locator('.banner')).toHaveCount(0, { timeout: 20_000 });
    // alice's page re-sent its state (hidden: away), bob's re-subscribed.
    await expect(contactRow(b.page, alice)).toHaveAttribute('data-status', 'away');
    await expect(contactRow(a.page, bob)).toHaveAttribute('data-status', 'online');
    testInfo.annotations.push({ type: 'restored after restart (ms)', description: String(Date.now() - restarted) });
    await setHidden(a.page, false);
    await expect(contactRow(b.page, alice)).toHaveAttribute('data-status', 'online');
    expect(navigations).toEqual({ a: 0, b: 0 });
  } finally {
    await stopServer(server);
    rmSync(dir, { recursive: true, force: true });
  }
});

test('two tabs of one user: one hidden keeps her online; both hidden => away; one back => online', async ({ browser, server }, testInfo) => {
  const { alice, bob } = names(testInfo, 'alice', 'bob');
  await setContacts(server, alice, [bob]);
  await setContacts(server, bob, [alice]);
  const b = await openDemo(await browser.newContext(), server, bob);
  const aliceCtx = await browser.newContext();
  const tab1 = await openDemo(aliceCtx, server, alice);
  const tab2 = await openDemo(aliceCtx, server, alice);
  // Both tabs in a known state first: opening a second page can move the
  // browser's focus between them, and a late focus event would look like
  // a flap below.
  await fireWindow(tab1.page, 'focus');
  await fireWindow(tab2.page, 'focus');
  await b.page.waitForTimeout(500);
  await expect(contactRow(b.page, alice)).toHaveAttribute('data-status', 'online');
  const mark = b.raw.viewsOf(alice).length;

  await setHidden(tab1.page, true);
  await b.page.waitForTimeout(500); // several flushes: any away would be here
  await expect(contactRow(b.page, alice)).toHaveAttribute('data-status', 'online');
  expect(b.raw.viewsOf(alice).slice(mark).map((v) => v.status)).not.toContain('away');

  await setHidden(tab2.page, true);
  await expect(contactRow(b.page, alice)).toHaveAttribute('data-status', 'away');
  await setHidden(tab1.page, false);
  await expect(contactRow(b.page, alice)).toHaveAttribute('data-status', 'online');
  // Closing the shown tab leaves the hidden one: away, never offline.
  await tab1.page.close();
  await b.page.waitForTimeout(2500);
  await expect(contactRow(b.page, alice)).toHaveAttribute('data-status', 'away');
});
