// Before the WASM arrives (or without JavaScript at all) every form is a
// plain HTML post: the server function redirects back with its error in the
// URL, and the server-rendered page must show that error, tied to its input.
import { expect, test, type Browser, type Page } from '@playwright/test';
import { ADMIN, PASSWORD, uniqueEmail } from './support/app';

async function noScriptPage(browser: Browser): Promise<Page> {
  const context = await browser.newContext({ javaScriptEnabled: false });
  return context.newPage();
}

async function registerWithoutScript(page: Page, name: string): Promise<void> {
  await page.goto('/register');
  const form = page.getByTestId('register-form');
  await form.getByLabel('Name').fill(name);
  await form.getByLabel('Email').fill(uniqueEmail('nojs'));
  await form.getByLabel('Password').fill(PASSWORD);
  await form.getByRole('button', { name: 'Create account' }).click();
  await expect(page).toHaveURL(/\/messages$/);
}

async function loginWithoutScript(page: Page, email: string, password: string): Promise<void> {
  await page.goto('/login');
  const form = page.getByTestId('login-form');
  await form.getByLabel('Email').fill(email);
  await form.getByLabel('Password').fill(password);
  await form.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByTestId('whoami')).toBeVisible();
}

test('without JavaScript the composer shows a refused message, and a retried post is stored once', async ({ browser }) => {
  const page = await noScriptPage(browser);
  await registerWithoutScript(page, 'Noel Noscript');

  // A new conversation with no message is refused, next to the field.
  await page.goto('/messages/new');
  const start = page.getByTestId('new-conversation');
  await start.getByRole('button', { name: 'Start conversation' }).click();
  await expect(start.locator('[data-field="body"]')).toHaveText('Write a message first.');
  await expect(start.getByLabel('Message')).toHaveAttribute('aria-invalid', 'true');
  await expect(start.getByLabel('Message')).toHaveAccessibleDescription('Write a message first.');

  await start.getByLabel('Message').fill('Started without JavaScript.');
  await start.getByRole('button', { name: 'Start conversation' }).click();
  await expect(page).toHaveURL(/\/messages\/\d+$/);

  // An empty message: the composer says why, in the page the redirect shows.
  const composer = page.getByTestId('composer');
  await composer.getByRole('button', { name: 'Send' }).click();
  await expect(page).toHaveURL(/__err=/);
  await expect(page.getByTestId('composer-error')).toHaveText('Write a message first.');
  await expect(composer.getByLabel('Message')).toHaveAttribute('aria-invalid', 'true');
  await expect(composer.getByLabel('Message')).toHaveAccessibleDescription('Write a message first.');

  // A message too long is refused, and the text stays in the box to shorten.
  const long = 'A very long story. '.repeat(300);
  await composer.getByLabel('Message').fill(long);
  await composer.getByRole('button', { name: 'Send' }).click();
  await expect(page.getByTestId('composer-error')).toContainText('Messages can be at most 5000 characters');
  await expect(composer.getByLabel('Message')).toHaveValue(long);
  // given back once: a reload shows an empty box again
  await page.goto(new URL(page.url()).pathname);
  await expect(composer.getByLabel('Message')).toHaveValue('');

  // A message goes out; the same post again (a browser retrying after the
  // answer was lost) must not store it twice.
  let posted: string | null = null;
  await page.route('**/api/conversations/send', async (route) => {
    posted = route.request().postData();
    await route.continue();
  });
  const text = `Posted twice, stored once ${Date.now()}`;
  await page.getByTestId('composer').getByLabel('Message').fill(text);
  await page.getByTestId('composer').getByRole('button', { name: 'Send' }).click();
  await expect(page.getByTestId('message').filter({ hasText: text })).toHaveCount(1);
  expect(posted).toMatch(/(^|&)client_id=[^&]+/);
  const again = await page.request.post('/api/conversations/send', {
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' },
    data: posted ?? '',
    maxRedirects: 0,
  });
  expect(again.status()).toBeLessThan(400);
  await page.reload();
  await expect(page.getByTestId('message').filter({ hasText: text })).toHaveCount(1);
  // The page shows no error left over from the first attempt.
  await expect(page.getByTestId('composer-error')).toHaveText('');
  await page.context().close();
});

test('without JavaScript the sign-in and admin forms show their errors', async ({ browser }) => {
  const page = await noScriptPage(browser);

  // Sign in: the error sits under the password and describes it.
  await page.goto('/login');
  const login = page.getByTestId('login-form');
  await login.getByLabel('Email').fill(ADMIN.email);
  await login.getByLabel('Password').fill('not the password');
  await login.getByRole('button', { name: 'Sign in' }).click();
  await expect(login.locator('[data-field="password"]')).toContainText('Wrong email or password');
  await expect(login.getByLabel('Password')).toHaveAttribute('aria-invalid', 'true');
  await expect(login.getByLabel('Password')).toHaveAccessibleDescription(/Wrong email or password/);
  await expect(login.getByLabel('Email')).not.toHaveAttribute('aria-invalid', 'true');

  await loginWithoutScript(page, ADMIN.email, ADMIN.password);

  // Canned responses: a bad shortcut is refused next to its field.
  await page.goto('/admin/canned');
  const form = page.getByTestId('canned-form');
  await form.getByLabel('Shortcut').fill('no spaces allowed');
  await form.getByLabel('Title').fill('Nojs');
  await form.getByLabel('Text').fill('Saved without JavaScript.');
  await form.getByRole('button', { name: 'Save' }).click();
  await expect(form.locator('[data-field="shortcut"]')).toContainText('for the shortcut');
  await expect(form.getByLabel('Shortcut')).toHaveAttribute('aria-invalid', 'true');

  // Deleting one that is already gone (another tab deleted it) says so.
  const shortcut = `nojs${Date.now().toString(36)}`;
  await page.getByTestId('canned-form').getByLabel('Shortcut').fill(shortcut);
  await page.getByTestId('canned-form').getByLabel('Title').fill('Nojs');
  await page.getByTestId('canned-form').getByLabel('Text').fill('Saved without JavaScript.');
  await page.getByTestId('canned-form').getByRole('button', { name: 'Save' }).click();
  const row = page.locator(`tr[data-shortcut="${shortcut}"]`);
  await expect(row).toBeVisible();
  const deleteButton = row.getByRole('button', { name: `Delete /${shortcut}` });
  const id = await row.locator('input[name="id"]').getAttribute('value');
  const deleted = await page.request.post('/api/canned/delete', { form: { id: id ?? '' } });
  expect(deleted.ok()).toBe(true);
  await deleteButton.click();
  await expect(page.getByTestId('canned').getByRole('alert')).toContainText('not found');

  // Users: a change for someone who no longer exists is refused, in words.
  await page.goto('/admin/users');
  const firstForm = page.getByTestId('users').locator('form').first();
  await firstForm.locator('input[name="user_id"]').evaluate((input: HTMLInputElement) => {
    input.value = '999999999';
  });
  await firstForm.getByRole('button').click();
  await expect(page).toHaveURL(/__err=/);
  await expect(page.getByRole('alert')).toContainText('not found');
  await page.context().close();
});
