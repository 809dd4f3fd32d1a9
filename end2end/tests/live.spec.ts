// Live behaviour between two real browsers: messages both ways without
// reloading, typing, "Seen", presence, and a server restart in the middle of
// a conversation (nothing lost, nothing doubled).
import { expect, test, type Browser, type Page } from '@playwright/test';
import { ADMIN, AGENT, hydrated, login, register, uniqueEmail } from './support/app';
import { PrivateServer } from './support/server';

async function newPage(browser: Browser, baseURL?: string): Promise<Page> {
  const context = await browser.newContext(baseURL ? { baseURL } : {});
  return context.newPage();
}

async function startConversation(page: Page, body: string): Promise<string> {
  await page.goto('/messages/new');
  await hydrated(page);
  const form = page.getByTestId('new-conversation');
  await form.getByLabel('Message').fill(body);
  await form.getByRole('button', { name: 'Start conversation' }).click();
  await expect(page).toHaveURL(/\/messages\/\d+$/);
  await hydrated(page);
  return new URL(page.url()).pathname.split('/').pop() ?? '';
}

async function send(page: Page, text: string): Promise<void> {
  const box = page.getByTestId('composer').getByLabel('Message');
  await box.fill(text);
  await box.press('Enter');
}

function bubble(page: Page, text: string) {
  return page.getByTestId('message').filter({ hasText: text });
}

test('messages, typing and "Seen" go both ways without reloading', async ({ browser }) => {
  const customer = await newPage(browser);
  await register(customer, 'Lena Live', uniqueEmail('lena'));
  const id = await startConversation(customer, 'Is my order on its way?');
  await expect(bubble(customer, 'Is my order on its way?').getByTestId('sent')).toBeVisible();

  const agent = await newPage(browser);
  await login(agent, AGENT.email, AGENT.password);
  await agent.goto(`/inbox/${id}`);
  await hydrated(agent);
  // opening the thread read it: "Sent" becomes "Seen" on the customer's side
  await expect(bubble(customer, 'Is my order on its way?').getByTestId('seen')).toBeVisible();

  // typing shows on the other side, then goes when the message arrives
  await agent.getByTestId('composer').getByLabel('Message').pressSequentially('Let me look');
  await expect(customer.getByTestId('typing')).toHaveText('Avery Agent is typing…');
  await agent.getByTestId('composer').getByLabel('Message').fill('It ships today!');
  await agent.getByTestId('composer').getByLabel('Message').press('Enter');
  await expect(bubble(customer, 'It ships today!')).toContainText('Avery Agent · Support');
  await expect(customer.getByTestId('typing')).toHaveText('');
  await expect(customer.getByTestId('messages')).toContainText('took the conversation');
  await expect(customer.getByTestId('status')).toHaveText('Active');

  // the customer has read it: the agent sees "Seen" under their message
  await expect(bubble(agent, 'It ships today!').getByTestId('seen')).toBeVisible();

  // and back
  await send(customer, 'Great, thank you!');
  await expect(bubble(agent, 'Great, thank you!')).toBeVisible();
  await expect(bubble(customer, 'Great, thank you!').getByTestId('seen')).toBeVisible();
  await expect(customer.getByTestId('pending')).toHaveCount(0);

  // a draft survives whatever arrives meanwhile
  const draft = agent.getByTestId('composer').getByLabel('Message');
  await draft.fill('A draft in progress');
  await send(customer, 'Are you still there?');
  await expect(bubble(agent, 'Are you still there?')).toBeVisible();
  await expect(draft).toHaveValue('A draft in progress');

  // the staff inbox updates in place
  const inbox = await newPage(browser);
  await login(inbox, ADMIN.email, ADMIN.password);
  await inbox.goto('/inbox');
  await hydrated(inbox);
  await send(customer, 'One more question about the invoice');
  const row = inbox.getByTestId('conversation-row').filter({ hasText: 'One more question about the invoice' });
  await expect(row).toBeVisible();
  await expect(row.getByTestId('unanswered')).toBeVisible();
});

test('customers see whether support is online, live', async ({ browser }) => {
  // A fresh agent, promoted by the admin, so no other test's tabs count.
  const email = uniqueEmail('presence');
  const agent = await newPage(browser);
  await register(agent, 'Pia Presence', email);
  const admin = await newPage(browser);
  await login(admin, ADMIN.email, ADMIN.password);
  await admin.goto('/admin/users');
  await hydrated(admin);
  const row = admin.locator(`tr[data-email="${email}"]`);
  await row.getByLabel('Role').selectOption('agent');
  await row.getByRole('button', { name: 'Change role' }).click();
  await expect(admin.locator(`tr[data-email="${email}"]`)).toContainText('Agent');
  await admin.context().close();

  const customer = await newPage(browser);
  await register(customer, 'Carl Curious', uniqueEmail('carl'));
  await customer.goto('/messages');
  await hydrated(customer);
  const status = customer.getByTestId('support-status');
  await expect(status).toHaveAttribute('data-online', 'false');

  await agent.goto('/inbox');
  await hydrated(agent);
  const availability = agent.getByTestId('availability');
  await availability.selectOption('online');
  await expect(status).toHaveAttribute('data-online', 'true');
  await expect(status).toHaveText('Support is online');
  await expect(agent.getByTestId('team').locator('li[data-online="true"]', { hasText: 'Pia Presence' })).toBeVisible();

  await availability.selectOption('away');
  await expect(status).toHaveAttribute('data-online', 'false');
  await expect(status).toContainText("we'll answer here as soon as we can");

  await availability.selectOption('online');
  await expect(status).toHaveAttribute('data-online', 'true');
  // closing the tab: offline after the grace period (3 s in the test server)
  await agent.context().close();
  await expect(status).toHaveAttribute('data-online', 'false', { timeout: 15_000 });
});

test('a server restart mid-conversation loses and doubles nothing', async ({ browser }) => {
  const server = await PrivateServer.start();
  try {
    const customer = await newPage(browser, server.url);
    await register(customer, 'Rita Restart', uniqueEmail('rita'));
    const id = await startConversation(customer, 'Before the restart');
    const agent = await newPage(browser, server.url);
    await login(agent, AGENT.email, AGENT.password);
    await agent.goto(`/inbox/${id}`);
    await hydrated(agent);
    await send(agent, 'Reply before');
    await expect(bubble(customer, 'Reply before')).toBeVisible();

    // Down for a moment: both tabs notice, and the customer writes meanwhile.
    await server.stop();
    await expect(customer.getByTestId('reconnecting')).toBeVisible({ timeout: 15_000 });
    await send(customer, 'Written while the server was down');
    await expect(customer.getByTestId('pending')).toContainText('Waiting for the connection');
    // With the server down, plain HTTP fails too: after the attempts that
    // would make a page fall back to polling it still says it reconnects.
    await expect(customer.getByTestId('reconnecting')).toHaveAttribute('data-attempt', /^([3-9]|\d\d+)$/, {
      timeout: 20_000,
    });
    await expect(customer.getByTestId('polling')).toHaveCount(0);
    await server.restart();

    await expect(customer.getByTestId('reconnecting')).toHaveCount(0, { timeout: 30_000 });
    await expect(bubble(agent, 'Written while the server was down')).toBeVisible({ timeout: 30_000 });
    await expect(customer.getByTestId('pending')).toHaveCount(0);
    await send(agent, 'Reply after');
    await send(customer, 'Message after');
    await expect(bubble(customer, 'Reply after')).toBeVisible();
    await expect(bubble(agent, 'Message after')).toBeVisible();

    for (const page of [customer, agent]) {
      for (const text of ['Before the restart', 'Reply before', 'Written while the server was down', 'Reply after', 'Message after']) {
        await expect(bubble(page, text)).toHaveCount(1);
      }
      // and the same after a reload: exactly once each, stored once
      await page.reload();
      await hydrated(page);
      for (const text of ['Written while the server was down', 'Reply after', 'Message after']) {
        await expect(bubble(page, text)).toHaveCount(1);
      }
    }
  } finally {
    await server.stop();
  }
});

test('staff get a desktop notification when a customer writes while the tab is hidden', async ({ browser }) => {
  const context = await browser.newContext();
  await context.grantPermissions(['notifications']);
  // Record notifications, and let the test hide the tab (a headless tab is
  // always "visible"); the real Notification is still called.
  await context.addInitScript(() => {
    const w = window as unknown as { __notes: string[]; __hidden: boolean; Notification: typeof Notification };
    w.__notes = [];
    w.__hidden = false;
    const Real = w.Notification;
    const Recording = function (this: unknown, title: string, options?: NotificationOptions) {
      w.__notes.push(`${title} | ${options?.body ?? ''}`);
      return new Real(title, options);
    } as unknown as typeof Notification;
    Object.defineProperty(Recording, 'permission', { get: () => Real.permission });
    (Recording as unknown as { requestPermission: typeof Notification.requestPermission }).requestPermission =
      Real.requestPermission.bind(Real);
    w.Notification = Recording;
    Object.defineProperty(Document.prototype, 'visibilityState', {
      get: () => (w.__hidden ? 'hidden' : 'visible'),
    });
  });
  const agent = await context.newPage();
  await login(agent, AGENT.email, AGENT.password);
  await agent.goto('/inbox');
  await hydrated(agent);
  await agent.evaluate(() => {
    (window as unknown as { __hidden: boolean }).__hidden = true;
  });

  const customer = await newPage(browser);
  await register(customer, 'Nico Notify', uniqueEmail('nico'));
  await startConversation(customer, 'Hello, anyone there?');

  await expect
    .poll(() => agent.evaluate(() => (window as unknown as { __notes: string[] }).__notes.join('\n')))
    .toContain('New conversation from Nico Notify | Hello, anyone there?');
  // visible again: no more notifications
  await agent.evaluate(() => {
    (window as unknown as { __hidden: boolean }).__hidden = false;
  });
  await send(customer, 'Second message while you are looking');
  await expect(
    agent.getByTestId('conversation-row').filter({ hasText: 'Second message while you are looking' }),
  ).toBeVisible();
  const notes = await agent.evaluate(() => (window as unknown as { __notes: string[] }).__notes);
  expect(notes.filter((n) => n.includes('Second message'))).toEqual([]);
  await context.close();
});
