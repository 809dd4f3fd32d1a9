// Accounts and roles, in a real browser: register, sign in and out, bad
// input, role gates, and an admin promoting a customer to agent, then deactivating them.
import { expect, test } from '@playwright/test';
import { ADMIN, PASSWORD, hydrated, login, logout, register, uniqueEmail } from './support/app';

test('register signs you in, logout signs you out', async ({ page }) => {
  const email = uniqueEmail('reg');
  await register(page, 'Riley Register', email);
  await expect(page).toHaveURL(/\/messages$/);
  await expect(page.getByTestId('nav')).toContainText('Messages');
  await expect(page.getByTestId('nav')).not.toContainText('Inbox');

  await logout(page);
  await expect(page.getByTestId('whoami')).toHaveCount(0);

  await login(page, email);
  await expect(page.getByTestId('whoami')).toContainText('Riley Register');
});

test('bad input gets a clear error next to the field', async ({ page }) => {
  await page.goto('/register');
  await hydrated(page);
  const form = page.getByTestId('register-form');
  await form.getByLabel('Name').fill('Sam');
  await form.getByLabel('Email').fill('not-an-email');
  await form.getByLabel('Password').fill(PASSWORD);
  await form.getByRole('button', { name: 'Create account' }).click();
  await expect(form.locator('[data-field="email"]')).toContainText('name@example.com');

  await form.getByLabel('Email').fill(uniqueEmail('sam'));
  await form.getByLabel('Password').fill('short');
  await form.getByRole('button', { name: 'Create account' }).click();
  await expect(form.locator('[data-field="password"]')).toContainText('at least 8 characters');

  await page.goto('/login');
  await hydrated(page);
  const login = page.getByTestId('login-form');
  await login.getByLabel('Email').fill(ADMIN.email);
  await login.getByLabel('Password').fill('wrong password!');
  await login.getByRole('button', { name: 'Sign in' }).click();
  await expect(login.locator('[data-field="password"]')).toContainText('Wrong email or password');
});

test('forms work before the WASM has loaded', async ({ browser }) => {
  // No JavaScript at all: the server-rendered forms post and redirect.
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  await page.goto('/register');
  const form = page.getByTestId('register-form');
  await form.getByLabel('Name').fill('Nora Nojs');
  await form.getByLabel('Email').fill('nope');
  await form.getByLabel('Password').fill(PASSWORD);
  await form.getByRole('button', { name: 'Create account' }).click();
  await expect(page.locator('[data-field="email"]')).toContainText('name@example.com');

  const email = uniqueEmail('nojs');
  await page.getByTestId('register-form').getByLabel('Name').fill('Nora Nojs');
  await page.getByTestId('register-form').getByLabel('Email').fill(email);
  await page.getByTestId('register-form').getByLabel('Password').fill(PASSWORD);
  await page.getByTestId('register-form').getByRole('button', { name: 'Create account' }).click();
  await expect(page).toHaveURL(/\/messages$/);
  await expect(page.getByTestId('whoami')).toContainText('Nora Nojs');
  await context.close();
});

test('a customer is refused the staff pages', async ({ page }) => {
  await register(page, 'Cody Customer', uniqueEmail('cody'));
  await page.goto('/inbox');
  await expect(page.getByTestId('forbidden')).toContainText('for the support team');
  await page.goto('/admin/users');
  await expect(page.getByTestId('forbidden')).toContainText('for admins');
});

test('an admin promotes a customer to agent, who then sees the staff pages, and deactivates them', async ({ browser }) => {
  const email = uniqueEmail('promo');
  const customerContext = await browser.newContext();
  const customer = await customerContext.newPage();
  await register(customer, 'Pat Promoted', email);
  await customer.goto('/inbox');
  await expect(customer.getByTestId('forbidden')).toBeVisible();

  const adminContext = await browser.newContext();
  const admin = await adminContext.newPage();
  await login(admin, ADMIN.email, ADMIN.password);
  await admin.goto('/admin/users');
  await hydrated(admin);
  const row = admin.locator(`tr[data-email="${email}"]`);
  await expect(row).toContainText('Customer');
  await row.getByLabel('Role').selectOption('agent');
  await row.getByRole('button', { name: 'Change role' }).click();
  await expect(admin.getByRole('status')).toContainText('Pat Promoted is now Agent');
  await expect(admin.locator(`tr[data-email="${email}"]`)).toContainText('Agent');

  await customer.goto('/inbox');
  await expect(customer.getByTestId('inbox')).toBeVisible();
  await expect(customer.getByTestId('nav')).toContainText('Inbox');

  // Deactivated, the new agent's open tab is signed out at once, and signing
  // in again is refused with a reason.
  await hydrated(customer);
  await admin.getByRole('button', { name: 'Deactivate Pat Promoted' }).click();
  await expect(admin.getByRole('status')).toContainText('Pat Promoted is deactivated');
  await expect(admin.locator(`tr[data-email="${email}"]`)).toContainText('Deactivated');
  await expect(customer.getByTestId('whoami')).toHaveCount(0);
  await expect(customer.getByRole('banner').getByRole('link', { name: 'Sign in', exact: true })).toBeVisible();
  await customer.goto('/login');
  await hydrated(customer);
  const form = customer.getByTestId('login-form');
  await form.getByLabel('Email').fill(email);
  await form.getByLabel('Password').fill(PASSWORD);
  await form.getByRole('button', { name: 'Sign in' }).click();
  await expect(form).toContainText('This account has been deactivated');
  await customerContext.close();
  await adminContext.close();
});
