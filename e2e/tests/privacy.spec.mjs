// Each privacy setting hides what it should, in the UI and on the raw frames
// the viewer's page receives: a hidden field never leaves the server, and
// no frame at all tells a viewer about a change it may not see.
import {
  test, expect, names, setContacts, setSettings, openDemo, contactRow, setHidden, screenshotPath, tokenFor,
} from './support.mjs';

const FIELDS = ['status', 'lastSeen', 'device', 'activity'];

function hiddenFieldsIn(views, fields) {
  return views.filter((v) => fields.some((f) => f in v));
}

test('alice shows her status to nobody (set in the privacy panel) => bob sees "status hidden" and no frame carries it', async ({ browser, server }, testInfo) => {
  const { alice, bob } = names(testInfo, 'alice', 'bob');
  await setContacts(server, alice, [bob]);
  await setContacts(server, bob, [alice]);
  const b = await openDemo(await browser.newContext(), server, bob);
  const a = await openDemo(await browser.newContext(), server, alice);
  await expect(contactRow(b.page, alice)).toHaveAttribute('data-status', 'online');

  await a.page.locator('select[name=showOnlineStatus]').selectOption('nobody');
  await expect(contactRow(b.page, alice)).toHaveAttribute('data-status', 'unknown');
  await expect(contactRow(b.page, alice).locator('.sub')).toHaveText('status hidden');
  await a.page.screenshot({ path: screenshotPath('demo-privacy') });
  const mark = b.raw.frames.length;

  // Everything alice now does stays on the server, frames and timing alike.
  await setHidden(a.page, true);
  await setHidden(a.page, false);
  await contactRow(a.page, bob).click();
  await a.page.locator('.chat-input').pressSequentially('secret', { delay: 30 });
  await a.page.waitForTimeout(1500);
  await a.page.close();
  await b.page.waitForTimeout(3500); // past the leave grace
  const later = b.raw.frames.slice(mark).filter((f) => f.text.includes(`"${alice}"`));
  expect(later.map((f) => f.text)).toEqual([]);
  const views = b.raw.viewsOf(alice);
  expect(hiddenFieldsIn(views.slice(-1), FIELDS)).toEqual([]);
  await expect(contactRow(b.page, alice)).toHaveAttribute('data-status', 'unknown');
  // Her own page saw the setting saved (not rolled back).
  const saved = await fetch(`${server.http}/api/settings/presence`, {
    headers: { Authorization: `Bearer ${tokenFor(alice)}` },
  }).then((r) => r.json());
  expect(saved).toMatchObject({ showOnlineStatus: 'nobody' });
});

test('alice hides her last seen => bob sees her offline with no last seen, on screen and on the wire', async ({ browser, server }, testInfo) => {
  const { alice, bob } = names(testInfo, 'alice', 'bob');
  await setContacts(server, alice, [bob]);
  await setContacts(server, bob, [alice]);
  await setSettings(server, alice, { showLastSeen: 'nobody' });
  const b = await openDemo(await browser.newContext(), server, bob);
  const a = await openDemo(await browser.newContext(), server, alice);
  await expect(contactRow(b.page, alice)).toHaveAttribute('data-status', 'online');
  await a.page.close();
  await expect(contactRow(b.page, alice)).toHaveAttribute('data-status', 'offline');
  await expect(contactRow(b.page, alice).locator('.sub')).toHaveText('offline');
  expect(b.raw.textsAbout(alice).filter((t) => t.includes('lastSeen'))).toEqual([]);
});

test('alice hides her activity => bob never sees her typing, and no frame about it reaches him', async ({ browser, server }, testInfo) => {
  const { alice, bob } = names(testInfo, 'alice', 'bob');
  await setContacts(server, alice, [bob]);
  await setContacts(server, bob, [alice]);
  await setSettings(server, alice, { showActivity: 'nobody' });
  const b = await openDemo(await browser.newContext(), server, bob);
  const a = await openDemo(await browser.newContext(), server, alice);
  await expect(contactRow(b.page, alice)).toHaveAttribute('data-status', 'online');
  const mark = b.raw.frames.length;
  await contactRow(a.page, bob).click();
  await a.page.locator('.chat-input').pressSequentially('psst', { delay: 50 });
  await a.page.waitForTimeout(1200);
  await expect(b.page.locator('.typing-line')).toHaveText('');
  expect(b.raw.frames.slice(mark).filter((f) => f.text.includes(`"${alice}"`)).map((f) => f.text)).toEqual([]);
  expect(b.raw.textsAbout(alice).filter((t) => t.includes('activity'))).toEqual([]);
});

test('contacts vs others: alice shows her status to contacts => bob (her contact) sees it, carol does not', async ({ browser, server }, testInfo) => {
  const { alice, bob, carol } = names(testInfo, 'alice', 'bob', 'carol');
  await setContacts(server, alice, [bob]); // alice lists bob, not carol
  await setContacts(server, bob, [alice]);
  await setContacts(server, carol, [alice]); // carol lists alice: that is not enough
  await setSettings(server, alice, { showOnlineStatus: 'contacts', showLastSeen: 'contacts', showActivity: 'contacts' });
  const b = await openDemo(await browser.newContext(), server, bob);
  const c = await openDemo(await browser.newContext(), server, carol);
  const a = await openDemo(await browser.newContext(), server, alice);
  await expect(contactRow(b.page, alice)).toHaveAttribute('data-status', 'online');
  await expect(contactRow(c.page, alice)).toHaveAttribute('data-status', 'unknown');
  await contactRow(a.page, bob).click();
  await a.page.locator('.chat-input').pressSequentially('hi', { delay: 50 });
  await expect(contactRow(b.page, alice).locator('.sub')).toHaveText('typing…');
  await a.page.close();
  await expect(contactRow(b.page, alice)).toHaveAttribute('data-status', 'offline');
  await c.page.waitForTimeout(1000);
  await expect(contactRow(c.page, alice)).toHaveAttribute('data-status', 'unknown');
  // On carol's wire: alice's id, nothing else about her, ever.
  expect(hiddenFieldsIn(c.raw.viewsOf(alice), FIELDS)).toEqual([]);
  expect(c.raw.viewsOf(alice).length).toBeLessThanOrEqual(1);
  // Bob saw each field.
  const seen = new Set(b.raw.viewsOf(alice).flatMap((v) => Object.keys(v)));
  for (const f of FIELDS) expect(seen).toContain(f);
});
