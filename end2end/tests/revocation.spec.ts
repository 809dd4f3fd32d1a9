// An open tab does not keep rights that have ended: signing out in one tab
// signs the other tabs out at once, and a role change reaches the user's open
// tab without a reload (the server closes the socket with 4001 / 4003 and
// the page fetches who is signed in again).
import { expect, test } from '@playwright/test';
import { ADMIN, hydrated, login, logout, register, sendAndWaitForAck, startConversation, uniqueEmail } from './support/app';

test('signing out in one tab signs the other tab out, without a reload', async ({ browser }) => {
  const context = await browser.newContext();
  const first = await context.newPage();
  await register(first, 'Tessa Tabs', uniqueEmail('tabs'));
  const id = await startConversation(first, 'Two tabs open');

  const second = await context.newPage();
  await second.goto(`/messages/${id}`);
  await hydrated(second);
  await sendAndWaitForAck(second, 'from the second tab');

  await logout(first);
  await expect(second.getByRole('banner').getByRole('link', { name: 'Sign in', exact: true })).toBeVisible();
  await expect(second.getByTestId('whoami')).toHaveCount(0);
  await context.close();
});

test("an admin's role change reaches the user's open tab, without a reload", async ({ browser }) => {
  const email = uniqueEmail('rolechange');
  const userContext = await browser.newContext();
  const user = await userContext.newPage();
  await register(user, 'Robin Role', email);
  await startConversation(user, 'Promote me, please');
  await sendAndWaitForAck(user, 'socket is up');
  await expect(user.getByTestId('nav')).not.toContainText('Inbox');

  const adminContext = await browser.newContext();
  const admin = await adminContext.newPage();
  await login(admin, ADMIN.email, ADMIN.password);
  await admin.goto('/admin/users');
  await hydrated(admin);
  const row = admin.locator(`tr[data-email="${email}"]`);
  await row.getByLabel('Role for Robin Role').selectOption('agent');
  await row.getByRole('button', { name: 'Change role' }).click();
  await expect(admin.getByRole('status')).toContainText('Robin Role is now Agent');

  // The user's tab, untouched: the top bar now offers the inbox.
  await expect(user.getByTestId('nav')).toContainText('Inbox');
  await expect(user.getByTestId('whoami')).toContainText('Agent');
  await userContext.close();
  await adminContext.close();
});
