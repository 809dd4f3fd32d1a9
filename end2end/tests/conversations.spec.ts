// The conversation lifecycle across roles, in real browsers: a customer, an
// agent and an admin, each in their own browser context.
import { expect, test, type Browser, type Page } from '@playwright/test';
import { ADMIN, AGENT, hydrated, login, register, uniqueEmail } from './support/app';

async function asNewCustomer(browser: Browser, name: string): Promise<Page> {
  const page = await (await browser.newContext()).newPage();
  await register(page, name, uniqueEmail(name.split(' ')[0].toLowerCase()));
  return page;
}

async function asUser(browser: Browser, email: string, password: string): Promise<Page> {
  const page = await (await browser.newContext()).newPage();
  await login(page, email, password);
  return page;
}

async function startConversation(page: Page, subject: string, body: string): Promise<string> {
  await page.goto('/messages/new');
  await hydrated(page);
  const form = page.getByTestId('new-conversation');
  await form.getByLabel('Subject').fill(subject);
  await form.getByLabel('Message').fill(body);
  await form.getByRole('button', { name: 'Start conversation' }).click();
  await expect(page).toHaveURL(/\/messages\/\d+$/);
  await expect(page.getByTestId('thread')).toContainText(body);
  return page.url();
}

async function write(page: Page, text: string): Promise<void> {
  await hydrated(page);
  const box = page.getByTestId('composer').getByLabel('Message');
  await box.fill(text);
  await box.press('Enter');
  await expect(page.getByTestId('messages').locator('[data-testid="message"]', { hasText: text })).toBeVisible();
  await expect(page.getByTestId('pending')).toHaveCount(0);
}

test('a conversation from first message to closed, across three roles', async ({ browser }) => {
  const subject = `Order problem ${Date.now()}`;
  const customer = await asNewCustomer(browser, 'Casey Lifecycle');
  const threadUrl = await startConversation(customer, subject, 'My parcel never arrived.');
  const threadPath = new URL(threadUrl).pathname;
  const id = threadPath.split('/').pop();
  // The customer waits on the list of conversations.
  await customer.goto('/messages');
  await hydrated(customer);

  // The agent sees it in the inbox, marked unanswered, and replies.
  const agent = await asUser(browser, AGENT.email, AGENT.password);
  await agent.goto('/inbox?unanswered=1');
  await hydrated(agent);
  const row = agent.getByTestId('conversation-row').filter({ hasText: subject });
  await expect(row).toBeVisible();
  await expect(row.getByTestId('unanswered')).toBeVisible();
  await row.click();
  await expect(agent).toHaveURL(new RegExp(`/inbox/${id}$`));
  await expect(agent.getByTestId('customer-panel')).toContainText('Casey Lifecycle');
  await write(agent, 'Sorry about that! Let me check.');
  await agent.reload();
  await expect(agent.getByTestId('messages')).toContainText('took the conversation');
  await expect(agent.getByTestId('assignee')).toHaveText('Assigned to Avery Agent');

  // The customer sees the unread badge and the reply, with the agent's name,
  // without reloading.
  await expect(customer.getByTestId('nav-badge')).toHaveText('1');
  await expect(customer).toHaveTitle('(1) Messages · Parley');
  const mine = customer.getByTestId('conversation-row').filter({ hasText: subject });
  await expect(mine.getByTestId('unread')).toHaveText('1');
  await mine.click();
  const reply = customer.getByTestId('message').filter({ hasText: 'Sorry about that!' });
  await expect(reply).toContainText('Avery Agent · Support');
  await expect(customer.getByTestId('status')).toHaveText('Active');

  // The agent resolves; the customer writing again reopens it.
  await agent.reload();
  await agent.getByTestId('status-resolved').click();
  await expect(agent.getByTestId('status')).toHaveText('Resolved');
  await customer.reload();
  await expect(customer.getByTestId('status')).toHaveText('Resolved');
  await write(customer, 'It still has not arrived.');
  await customer.reload();
  await expect(customer.getByTestId('status')).toHaveText('Active');
  await expect(customer.getByTestId('messages')).toContainText('wrote again');

  // An admin closes it for good, after confirming.
  const admin = await asUser(browser, ADMIN.email, ADMIN.password);
  await admin.goto(`/inbox/${id}`);
  await hydrated(admin);
  await admin.getByTestId('close-details').locator('summary').click();
  await admin.getByTestId('confirm-close').click();
  await expect(admin.getByTestId('status')).toHaveText('Closed');

  // The customer cannot write any more, and can start a new conversation.
  await customer.reload();
  await expect(customer.getByTestId('closed')).toContainText('This conversation is closed');
  await expect(customer.getByTestId('composer')).toHaveCount(0);
  await customer.getByRole('link', { name: 'Start a new conversation' }).click();
  await startConversation(customer, `${subject} (again)`, 'Opening a new one.');
});

test('notes stay with the team, and a stranger sees "not found"', async ({ browser }) => {
  const subject = `Private matters ${Date.now()}`;
  const customer = await asNewCustomer(browser, 'Nina Notes');
  const url = await startConversation(customer, subject, 'Question about my invoice.');
  const id = new URL(url).pathname.split('/').pop();

  const agent = await asUser(browser, AGENT.email, AGENT.password);
  await agent.goto(`/inbox/${id}`);
  await hydrated(agent);
  await agent.getByLabel('Private note').check();
  await write(agent, 'INTERNAL: check the refund queue first');
  await expect(agent.getByTestId('message').filter({ hasText: 'INTERNAL' })).toHaveAttribute('data-kind', 'note');
  await agent.reload();
  await expect(agent.getByTestId('messages')).toContainText('INTERNAL: check the refund queue');

  await customer.reload();
  await expect(customer.getByTestId('thread')).toContainText('Question about my invoice.');
  await expect(customer.getByTestId('thread')).not.toContainText('INTERNAL');
  await customer.goto('/messages');
  await expect(customer.getByTestId('conversation-list')).not.toContainText('INTERNAL');

  const stranger = await asNewCustomer(browser, 'Sly Stranger');
  const response = await stranger.goto(url);
  expect(response?.status()).toBe(404);
  await expect(stranger.getByRole('heading', { name: 'Not found' })).toBeVisible();
  await expect(stranger.locator('body')).not.toContainText('invoice');
});

test('user text is shown as text, never as HTML', async ({ browser }) => {
  const evil = '<img src=x onerror=alert(1)> <script>alert(2)</script>';
  const customer = await asNewCustomer(browser, 'Xavier Script');
  let dialogs = 0;
  customer.on('dialog', async (dialog) => {
    dialogs += 1;
    await dialog.dismiss();
  });
  const url = await startConversation(customer, '<b>not bold</b>', evil);
  await write(customer, '<i>not italic</i>');

  // hydrated page
  await customer.reload();
  await hydrated(customer);
  const bubble = customer.getByTestId('message').filter({ hasText: 'onerror' }).locator('.bubble');
  await expect(bubble).toHaveText(evil);
  await expect(customer.locator('.bubble img, .bubble script, .bubble i, h1 b')).toHaveCount(0);
  await expect(customer.getByRole('heading', { name: '<b>not bold</b>' })).toBeVisible();

  // server-rendered page, no JavaScript at all
  const noJs = await browser.newContext({ javaScriptEnabled: false });
  await noJs.addCookies(await customer.context().cookies());
  const plain = await noJs.newPage();
  await plain.goto(url);
  await expect(plain.getByTestId('message').filter({ hasText: 'onerror' }).locator('.bubble')).toHaveText(evil);
  await expect(plain.locator('.bubble img, .bubble script, .bubble i')).toHaveCount(0);
  expect(dialogs).toBe(0);
});

test('staff insert canned responses with a slash', async ({ browser }) => {
  const shortcut = `ship${Date.now().toString(36)}`;
  const admin = await asUser(browser, ADMIN.email, ADMIN.password);
  await admin.goto('/admin/canned');
  await hydrated(admin);
  const form = admin.getByTestId('canned-form');
  await form.getByLabel('Shortcut').fill(shortcut);
  await form.getByLabel('Title').fill('Shipping times');
  await form.getByLabel('Text').fill('Parcels usually arrive within 3 working days.');
  await form.getByRole('button', { name: 'Save' }).click();
  await expect(admin.locator(`tr[data-shortcut="${shortcut}"]`)).toBeVisible();

  const customer = await asNewCustomer(browser, 'Sam Shipping');
  const url = await startConversation(customer, 'Shipping?', 'How long does shipping take?');
  const id = new URL(url).pathname.split('/').pop();

  const agent = await asUser(browser, AGENT.email, AGENT.password);
  await agent.goto(`/inbox/${id}`);
  await hydrated(agent);
  const box = agent.getByTestId('composer').getByLabel('Message');
  await box.pressSequentially(`/${shortcut.slice(0, 6)}`);
  await expect(agent.getByTestId('canned-menu')).toContainText('Shipping times');
  await box.press('Enter');
  await expect(box).toHaveValue('Parcels usually arrive within 3 working days.');
  await box.press('Enter');
  await expect(agent.getByTestId('message').filter({ hasText: 'within 3 working days' })).toBeVisible();
});
