// Helpers shared by the browser tests: unique accounts, sign-in, hydration.
import { expect, type Page } from '@playwright/test';

export const PASSWORD = 'correct horse battery';
export const ADMIN = { email: 'admin@parley.test', password: 'bright-lantern-key' };
export const AGENT = { email: 'agent@parley.test', password: 'quiet-river-desk' };

let counter = 0;
/** An email no other test (or earlier run against the same server) uses. */
export function uniqueEmail(prefix: string): string {
  counter += 1;
  return `${prefix}-${Date.now().toString(36)}-${counter}@example.com`;
}

/** Waits until the WASM has hydrated the page (App sets data-hydrated). */
export async function hydrated(page: Page): Promise<void> {
  await page.locator('body[data-hydrated="true"]').waitFor({ timeout: 30_000 });
}

export async function register(page: Page, name: string, email: string, password = PASSWORD): Promise<void> {
  await page.goto('/register');
  await hydrated(page);
  const form = page.getByTestId('register-form');
  await form.getByLabel('Name').fill(name);
  await form.getByLabel('Email').fill(email);
  await form.getByLabel('Password').fill(password);
  await form.getByRole('button', { name: 'Create account' }).click();
  await expect(page.getByTestId('whoami')).toContainText(name);
}

export async function login(page: Page, email: string, password = PASSWORD): Promise<void> {
  await page.goto('/login');
  await hydrated(page);
  const form = page.getByTestId('login-form');
  await form.getByLabel('Email').fill(email);
  await form.getByLabel('Password').fill(password);
  await form.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByTestId('whoami')).toBeVisible();
}

export async function logout(page: Page): Promise<void> {
  await page.getByTestId('logout').click();
  await expect(page.getByRole('link', { name: 'Sign in', exact: true })).toBeVisible();
}

/** Starts a conversation as the signed-in customer; its id. */
export async function startConversation(page: Page, body: string): Promise<string> {
  await page.goto('/messages/new');
  await hydrated(page);
  const form = page.getByTestId('new-conversation');
  await form.getByLabel('Message').fill(body);
  await form.getByRole('button', { name: 'Start conversation' }).click();
  await expect(page).toHaveURL(/\/messages\/\d+$/);
  await hydrated(page);
  // The thread's code is loaded on demand (app/src/routes.rs): the page is
  // the thread once its composer shows.
  await expect(page.getByTestId('composer')).toBeVisible();
  return new URL(page.url()).pathname.split('/').pop() ?? '';
}

/** Sends a message from the open thread's composer and waits until the
 *  server acknowledged it: the page's live socket is up. */
export async function sendAndWaitForAck(page: Page, text: string): Promise<void> {
  const box = page.getByTestId('composer').getByLabel('Message');
  await box.fill(text);
  await box.press('Enter');
  await expect(page.getByTestId('message').filter({ hasText: text }).getByTestId('sent')).toBeVisible();
}
