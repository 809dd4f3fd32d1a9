// What a tab shows after it was cut off for a while, and what it keeps:
// lists, badges and the open thread catch up after a reconnect (#8 "Lists go
// stale"); messages written offline survive a reload and arrive once, in
// order (#8 "Text written offline is lost"); a conversation read in another
// tab clears its row's unread count (#8 "Unread badge out of step");
// signing out leaves no unsent text behind.
import { expect, test, type Browser, type Page, type Route } from '@playwright/test';
import { ADMIN, AGENT, hydrated, login, logout, register, sendAndWaitForAck, startConversation, uniqueEmail } from './support/app';
import { goOffline, goOnline, socketSwitch } from './support/network';

function bubble(page: Page, text: string) {
  return page.getByTestId('message').filter({ hasText: text });
}

function row(page: Page, id: string) {
  return page.locator(`[data-testid="conversation-row"][data-id="${id}"]`);
}

async function signedIn(browser: Browser, email: string, password: string): Promise<Page> {
  const page = await (await browser.newContext()).newPage();
  await login(page, email, password);
  return page;
}

async function write(page: Page, text: string): Promise<void> {
  const box = page.getByTestId('composer').getByLabel('Message');
  await box.fill(text);
  await box.press('Enter');
}

test('after a reconnect the lists, the badge and the open thread show what changed meanwhile', async ({ browser }) => {
  const customerContext = await browser.newContext();
  const customerSocket = await socketSwitch(customerContext);
  const thread = await customerContext.newPage();
  const staffContext = await browser.newContext();
  const staffSocket = await socketSwitch(staffContext);
  const inbox = await staffContext.newPage();
  const [agent] = await Promise.all([
    signedIn(browser, AGENT.email, AGENT.password),
    login(inbox, ADMIN.email, ADMIN.password),
    register(thread, 'Olga Offline', uniqueEmail('olga')),
  ]);
  const id = await startConversation(thread, 'Will my page keep up?');
  const list = await customerContext.newPage();
  await Promise.all([list.goto('/messages'), inbox.goto('/inbox')]);
  await Promise.all([hydrated(list), hydrated(inbox)]);
  // The agent opens it while the customer's socket is down: the "read"
  // frame is missed, and "Seen" still shows once the socket is back.
  await customerSocket.off();
  await expect(thread.getByTestId('reconnecting')).toBeVisible();
  await agent.goto(`/inbox/${id}`);
  await hydrated(agent);
  customerSocket.on();
  await expect(bubble(thread, 'Will my page keep up?').getByTestId('seen')).toBeVisible({ timeout: 20_000 });
  // Both tabs back on the socket (after three refused attempts a page polls
  // meanwhile, and says so).
  for (const page of [thread, list]) {
    await expect(page.getByTestId('reconnecting')).toHaveCount(0, { timeout: 20_000 });
    await expect(page.getByTestId('polling')).toHaveCount(0, { timeout: 20_000 });
  }
  await expect(row(inbox, id)).toContainText('Open');
  // Staff badges count conversations waiting for an answer: this one is.
  const waiting = Number(await inbox.getByTestId('nav-badge').textContent());
  expect(waiting).toBeGreaterThan(0);

  // The customer's tabs and the admin's inbox drop off the network ...
  await goOffline(customerContext, customerSocket);
  await goOffline(staffContext, staffSocket);
  await expect(thread.getByTestId('reconnecting')).toBeVisible();
  await expect(inbox.getByTestId('reconnecting')).toBeVisible();
  // ... while the agent answers and resolves the conversation.
  await sendAndWaitForAck(agent, 'Answered while you were away');
  await agent.getByTestId('status-resolved').click();
  await expect(agent.getByTestId('status')).toHaveText('Resolved');

  await goOnline(customerContext, customerSocket);
  await goOnline(staffContext, staffSocket);
  // No navigation: each tab catches up on its own.
  await expect(thread.getByTestId('reconnecting')).toHaveCount(0, { timeout: 20_000 });
  await expect(bubble(thread, 'Answered while you were away')).toBeVisible();
  await expect(thread.getByTestId('status')).toHaveText('Resolved');
  await expect(row(list, id)).toContainText('Answered while you were away');
  await expect(row(list, id)).toContainText('Resolved');
  await expect(inbox.getByTestId('reconnecting')).toHaveCount(0, { timeout: 20_000 });
  await expect(row(inbox, id)).toContainText('Resolved');
  await expect(row(inbox, id)).toContainText('Answered while you were away');
  await expect(row(inbox, id)).toContainText('Avery Agent');
  // answered meanwhile: one fewer waiting
  if (waiting > 1) await expect(inbox.getByTestId('nav-badge')).toHaveText(String(waiting - 1));
  else await expect(inbox.getByTestId('nav-badge')).toHaveCount(0);
});

test('messages written offline survive a reload and arrive once, in order', async ({ browser }) => {
  const context = await browser.newContext();
  const socket = await socketSwitch(context);
  const page = await context.newPage();
  const [agent] = await Promise.all([
    signedIn(browser, AGENT.email, AGENT.password),
    register(page, 'Rhea Reload', uniqueEmail('rhea')),
  ]);
  const id = await startConversation(page, 'Before going offline');
  await expect(bubble(page, 'Before going offline').getByTestId('sent')).toBeVisible();
  // a second tab on the same conversation (it shares the stored outbox)
  const other = await context.newPage();
  await other.goto(`/messages/${id}`);
  await hydrated(other);

  await goOffline(context, socket);
  await write(page, 'First, written offline');
  await write(page, 'Second, written offline');
  await expect(page.getByTestId('pending')).toHaveCount(2);
  await write(other, 'Third, from the other tab');
  // what waits is shared: the other tab shows the first tab's two as well
  await expect(other.getByTestId('pending')).toHaveCount(3);

  // The network is back but the socket is not yet (and the fallback's HTTP
  // send is cut, so nothing goes out yet): reload the first tab. It keeps
  // its own two and the other tab's one (which neither tab's later writes
  // may drop).
  const cutSend = (route: Route) => route.abort();
  await context.route('**/api/conversations/send', cutSend);
  await context.setOffline(false);
  await page.reload();
  await hydrated(page);
  await expect(page.getByTestId('pending')).toHaveCount(3);
  await expect(page.getByTestId('pending').first()).toContainText('First, written offline');
  await context.unroute('**/api/conversations/send', cutSend);
  socket.on();
  await expect(page.getByTestId('pending')).toHaveCount(0, { timeout: 20_000 });
  await expect(other.getByTestId('pending')).toHaveCount(0, { timeout: 20_000 });

  // Stored once each, in the order written (the other tab sends the first
  // tab's kept messages before its own): what another reader sees.
  await agent.goto(`/inbox/${id}`);
  await hydrated(agent);
  const texts = await agent.getByTestId('message').locator('.bubble').allTextContents();
  expect(texts.filter((t) => t.includes('written offline') || t.includes('other tab'))).toEqual([
    'First, written offline',
    'Second, written offline',
    'Third, from the other tab',
  ]);
  // and nothing is left to resend on the next visit
  await page.reload();
  await hydrated(page);
  await page.waitForTimeout(500);
  await expect(page.getByTestId('pending')).toHaveCount(0);
});

test('reading a conversation in one tab clears its unread count in the list of another', async ({ browser }) => {
  const context = await browser.newContext();
  const list = await context.newPage();
  const [agent] = await Promise.all([
    signedIn(browser, AGENT.email, AGENT.password),
    register(list, 'Tess Tabs', uniqueEmail('tess')),
  ]);
  const id = await startConversation(list, 'Two tabs open');
  await Promise.all([list.goto('/messages'), agent.goto(`/inbox/${id}`)]);
  await Promise.all([hydrated(list), hydrated(agent)]);
  await sendAndWaitForAck(agent, 'A reply to read elsewhere');
  await expect(row(list, id).getByTestId('unread')).toHaveText('1');
  await expect(list.getByTestId('nav-badge')).toHaveText('1');

  const reader = await context.newPage();
  await reader.goto(`/messages/${id}`);
  await hydrated(reader);
  await expect(bubble(reader, 'A reply to read elsewhere')).toBeVisible();

  await expect(list.getByTestId('nav-badge')).toHaveCount(0);
  await expect(row(list, id).getByTestId('unread')).toHaveCount(0);
});

test('signing out forgets the messages this browser kept unsent', async ({ browser }) => {
  const context = await browser.newContext();
  const socket = await socketSwitch(context);
  const page = await context.newPage();
  await register(page, 'Sana Signout', uniqueEmail('sana'));
  await startConversation(page, 'Before going offline');
  const kept = () =>
    page.evaluate(() =>
      Object.keys(localStorage)
        .filter((key) => key.startsWith('parley.outbox.'))
        .map((key) => localStorage.getItem(key))
        .join('\n'),
    );

  await goOffline(context, socket);
  await write(page, 'Private words, never sent');
  await expect(page.getByTestId('pending')).toHaveCount(1);
  await expect.poll(kept).toContain('Private words, never sent');
  // Back online, but sending still fails (no socket, and the fallback's
  // HTTP send is cut too): the message is still waiting when they sign out.
  await context.route('**/api/conversations/send', (route) => route.abort());
  await context.setOffline(false);
  await logout(page);
  await expect.poll(kept).toBe('');
});
