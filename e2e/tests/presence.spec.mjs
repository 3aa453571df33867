// The seed's patterns and DESIGN.md's client rules, as two people see them:
// alice and bob in separate browser contexts, on the demo app.
import {
  test, expect, names, setContacts, openDemo, contactRow, setHidden, fireWindow, screenshotPath, LEAVE_GRACE_MS,
} from './support.mjs';

async function aliceAndBob(browser, server, testInfo, aliceQuery = '') {
  const { alice, bob } = names(testInfo, 'alice', 'bob');
  await setContacts(server, alice, [bob]);
  await setContacts(server, bob, [alice]);
  const bobCtx = await browser.newContext();
  const aliceCtx = await browser.newContext();
  const b = await openDemo(bobCtx, server, bob);
  const a = await openDemo(aliceCtx, server, alice, aliceQuery);
  return { alice, bob, a, b, aliceCtx, bobCtx };
}

test('alice opens the demo => bob sees her online with a green dot', async ({ browser, server }, testInfo) => {
  const { alice, bob, a, b } = await aliceAndBob(browser, server, testInfo);
  await expect(contactRow(b.page, alice)).toHaveAttribute('data-status', 'online');
  await expect(contactRow(b.page, alice).locator('.dot')).toHaveAttribute('title', /🟢 online/);
  await expect(contactRow(a.page, bob)).toHaveAttribute('data-status', 'online');
  await b.page.screenshot({ path: screenshotPath('demo-online') });
});

test('alice hides her tab => bob sees away; she comes back => online, never offline', async ({ browser, server }, testInfo) => {
  const { alice, a, b } = await aliceAndBob(browser, server, testInfo);
  await expect(contactRow(b.page, alice)).toHaveAttribute('data-status', 'online');
  await setHidden(a.page, true);
  await expect(contactRow(b.page, alice)).toHaveAttribute('data-status', 'away');
  await expect(contactRow(b.page, alice).locator('.dot')).toHaveAttribute('title', /🟡 away/);
  await b.page.screenshot({ path: screenshotPath('demo-away') });
  await setHidden(a.page, false);
  await expect(contactRow(b.page, alice)).toHaveAttribute('data-status', 'online');
  const statuses = b.raw.viewsOf(alice).map((v) => v.status);
  expect(statuses).not.toContain('offline');
  expect(statuses.slice(-2)).toEqual(['away', 'online']);
});

test('alice\'s window loses focus => away; focus => online', async ({ browser, server }, testInfo) => {
  const { alice, a, b } = await aliceAndBob(browser, server, testInfo);
  await expect(contactRow(b.page, alice)).toHaveAttribute('data-status', 'online');
  await fireWindow(a.page, 'blur');
  await expect(contactRow(b.page, alice)).toHaveAttribute('data-status', 'away');
  await fireWindow(a.page, 'focus');
  await expect(contactRow(b.page, alice)).toHaveAttribute('data-status', 'online');
});

test('alice leaves the keyboard and mouse alone for idleMs => away; she moves the mouse => online', async ({ browser, server }, testInfo) => {
  const { alice, a, b } = await aliceAndBob(browser, server, testInfo, '&idleMs=2500');
  await expect(contactRow(b.page, alice)).toHaveAttribute('data-status', 'online');
  const still = Date.now();
  await expect(contactRow(b.page, alice)).toHaveAttribute('data-status', 'away');
  expect(Date.now() - still).toBeGreaterThan(1000); // idleness, not an instant flip
  await a.page.mouse.move(200, 200);
  await a.page.mouse.move(260, 240);
  await expect(contactRow(b.page, alice)).toHaveAttribute('data-status', 'online');
});

test('alice closes her page => bob sees offline after the leave grace, last seen just now', async ({ browser, server }, testInfo) => {
  const { alice, a, b } = await aliceAndBob(browser, server, testInfo);
  await expect(contactRow(b.page, alice)).toHaveAttribute('data-status', 'online');
  const closed = Date.now();
  await a.page.close();
  await expect(contactRow(b.page, alice)).toHaveAttribute('data-status', 'offline');
  const took = Date.now() - closed;
  expect(took).toBeGreaterThanOrEqual(LEAVE_GRACE_MS - 200);
  await expect(contactRow(b.page, alice).locator('.sub')).toHaveText(/last seen just now/);
  const last = b.raw.viewsOf(alice).at(-1);
  expect(last.status).toBe('offline');
  expect(Math.abs(last.lastSeen - closed)).toBeLessThan(LEAVE_GRACE_MS + 2000);
  await b.page.screenshot({ path: screenshotPath('demo-offline') });
});

test('alice reloads her page => bob never sees her leave: no offline, no away', async ({ browser, server }, testInfo) => {
  const { alice, a, b } = await aliceAndBob(browser, server, testInfo);
  await expect(contactRow(b.page, alice)).toHaveAttribute('data-status', 'online');
  const before = b.raw.viewsOf(alice).length;
  await a.page.reload();
  await expect(a.page.locator(`[data-me="${alice}"]`)).toBeVisible();
  await expect(a.page.locator('.banner')).toHaveCount(0);
  // Past the grace: a flap would have reached bob by now.
  await a.page.waitForTimeout(LEAVE_GRACE_MS + 1000);
  await expect(contactRow(b.page, alice)).toHaveAttribute('data-status', 'online');
  const after = b.raw.viewsOf(alice).slice(before).map((v) => v.status);
  expect(after).toEqual([]);
});

test('alice types => bob sees "typing…", which clears 3 s after her last key', async ({ browser, server }, testInfo) => {
  const { alice, bob, a, b } = await aliceAndBob(browser, server, testInfo);
  await contactRow(b.page, alice).click();
  await contactRow(a.page, bob).click();
  await a.page.locator('.chat-input').pressSequentially('hello bob', { delay: 40 });
  const lastKey = Date.now();
  await expect(b.page.locator('.typing-line')).toHaveText(`${alice} is typing…`);
  await expect(contactRow(b.page, alice).locator('.sub')).toHaveText('typing…');
  await b.page.screenshot({ path: screenshotPath('demo-typing') });
  await expect(b.page.locator('.typing-line')).toHaveText('', { timeout: 8000 });
  const cleared = Date.now() - lastKey;
  expect(cleared).toBeGreaterThan(2000);
  expect(cleared).toBeLessThan(6000);
  const activities = b.raw.viewsOf(alice).map((v) => v.activity?.type ?? null);
  expect(activities).toContain('typing');
  expect(activities.at(-1)).toBe(null);
});
