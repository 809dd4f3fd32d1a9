// Keyboard only: a customer signs in, starts a conversation and writes; an
// agent opens it from the inbox and replies. No clicks, only Tab, typing and
// Enter. Along the way, what a screen reader finds by role and name.
import { expect, test, type Locator, type Page } from '@playwright/test';
import { ADMIN, AGENT, PASSWORD, hydrated, uniqueEmail } from './support/app';

/** Presses Tab until `target` has the focus (at most `limit` times). */
async function tabTo(page: Page, target: Locator, limit = 40): Promise<void> {
  for (let i = 0; i < limit; i += 1) {
    if (await target.evaluate((el) => el === document.activeElement)) return;
    await page.keyboard.press('Tab');
  }
  throw new Error(`Tab never reached ${target}`);
}

async function signInByKeyboard(page: Page, email: string, password: string): Promise<void> {
  await page.goto('/login');
  await hydrated(page);
  const form = page.getByTestId('login-form');
  await tabTo(page, form.getByLabel('Email'));
  await page.keyboard.type(email);
  await page.keyboard.press('Tab');
  await expect(form.getByLabel('Password')).toBeFocused();
  await page.keyboard.type(password);
  await page.keyboard.press('Enter');
  await expect(page.getByTestId('whoami')).toBeVisible();
  await hydrated(page);
}

test('the customer and the staff flows work with the keyboard alone', async ({ browser }) => {
  test.slow();
  const email = uniqueEmail('keys');
  const seed = await browser.newContext();
  expect((await seed.request.post('/api/register', { form: { name: 'Kim Keys', email, password: PASSWORD } })).ok()).toBe(true);
  await seed.close();

  // The customer: sign in, start a conversation, write in it.
  const customer = await (await browser.newContext()).newPage();
  await signInByKeyboard(customer, email, PASSWORD);
  await expect(customer).toHaveURL(/\/messages$/);
  await tabTo(customer, customer.getByRole('link', { name: 'New conversation' }));
  await customer.keyboard.press('Enter');
  await expect(customer).toHaveURL(/\/messages\/new$/);
  const subject = `Keyboard only ${Date.now().toString(36)}`;
  const form = customer.getByTestId('new-conversation');
  await tabTo(customer, form.getByLabel('Subject'));
  await customer.keyboard.type(subject);
  await customer.keyboard.press('Tab');
  await expect(form.getByLabel('Message')).toBeFocused();
  await customer.keyboard.type('I only use a keyboard.');
  await tabTo(customer, form.getByRole('button', { name: 'Start conversation' }));
  await customer.keyboard.press('Enter');
  await expect(customer).toHaveURL(/\/messages\/\d+$/);
  await hydrated(customer);

  // The thread as a screen reader finds it.
  const log = customer.getByRole('log', { name: 'Messages' });
  await expect(log).toBeVisible();
  await expect(log.getByRole('article', { name: /^You/ })).toContainText('I only use a keyboard.');
  await expect(customer.getByRole('status', { name: 'Conversation status' })).toHaveText('Open');
  await tabTo(customer, customer.getByRole('textbox', { name: 'Message' }));
  await customer.keyboard.type('And I can write more.');
  await customer.keyboard.press('Enter');
  await expect(log.getByRole('article', { name: /^You/ }).filter({ hasText: 'And I can write more.' })).toBeVisible();

  // The agent: sign in, open the conversation from the inbox, reply.
  const agent = await (await browser.newContext()).newPage();
  await signInByKeyboard(agent, AGENT.email, AGENT.password);
  await expect(agent).toHaveURL(/\/inbox$/);
  await tabTo(agent, agent.getByRole('link', { name: new RegExp(subject) }), 60);
  await agent.keyboard.press('Enter');
  await expect(agent).toHaveURL(/\/inbox\/\d+$/);
  await hydrated(agent);
  const panel = agent.getByRole('region', { name: 'Customer' });
  await expect(panel).toContainText('Kim Keys');
  await expect(agent.getByRole('log', { name: 'Messages' }).getByRole('article', { name: /^Kim Keys/ }).first()).toContainText('I only use a keyboard.');
  await tabTo(agent, agent.getByRole('textbox', { name: 'Message' }));
  await agent.keyboard.type('Happy to help, by keyboard too.');
  await agent.keyboard.press('Enter');

  // The reply reaches the customer, announced in the log.
  await expect(log.getByRole('article', { name: /Support/ })).toContainText('Happy to help, by keyboard too.');
});

test('the canned-response menu is a named listbox tied to the composer', async ({ browser }) => {
  const shortcut = `kb${Date.now().toString(36)}`;
  const admin = await browser.newContext();
  expect((await admin.request.post('/api/login', { form: { email: ADMIN.email, password: ADMIN.password } })).ok()).toBe(true);
  const saved = await admin.request.post('/api/canned/save', {
    form: { shortcut, title: 'Keyboard help', body: 'Use Tab and Enter.' },
  });
  expect(saved.ok()).toBe(true);
  await admin.close();
  const customer = await browser.newContext();
  expect((await customer.request.post('/api/register', { form: { name: 'Cara Canned', email: uniqueEmail('canned'), password: PASSWORD } })).ok()).toBe(true);
  const started = await customer.request.post('/api/conversations/start', { form: { subject: '', body: 'Any tips?' } });
  expect(started.ok()).toBe(true);
  const id = String(await started.json());
  await customer.close();

  const agent = await (await browser.newContext()).newPage();
  expect((await agent.request.post('/api/login', { form: { email: AGENT.email, password: AGENT.password } })).ok()).toBe(true);
  await agent.goto(`/inbox/${id}`);
  await hydrated(agent);
  const box = agent.getByRole('textbox', { name: 'Message' });
  await box.focus();
  await agent.keyboard.type(`/${shortcut}`);
  const menu = agent.getByRole('listbox', { name: 'Canned responses' });
  await expect(menu).toBeVisible();
  await expect(box).toHaveAttribute('aria-controls', (await menu.getAttribute('id')) ?? 'missing');
  const option = menu.getByRole('option', { name: new RegExp(shortcut) });
  await expect(option).toHaveAttribute('aria-selected', 'true');
  await expect(box).toHaveAttribute('aria-activedescendant', (await option.getAttribute('id')) ?? 'missing');
  await agent.keyboard.press('Enter');
  await expect(box).toHaveValue('Use Tab and Enter.');
  await expect(menu).toHaveCount(0);
});
