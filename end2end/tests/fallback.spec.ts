// When the live socket cannot connect at all (a proxy that refuses
// upgrades), a page does not wait forever: after a few failed attempts it
// sends with the server function and polls for new messages, says so in the
// banner, and goes back to the socket once it connects (#8).
import { expect, test, type Page } from '@playwright/test';
import { AGENT, hydrated, login, register, sendAndWaitForAck, startConversation, uniqueEmail } from './support/app';
import { socketSwitch } from './support/network';

function bubble(page: Page, text: string) {
  return page.getByTestId('message').filter({ hasText: text });
}

async function write(page: Page, text: string): Promise<void> {
  const box = page.getByTestId('composer').getByLabel('Message');
  await box.fill(text);
  await box.press('Enter');
}

test('without a socket the thread sends and receives over HTTP, then goes live again', async ({ browser }) => {
  // It waits for the client's own schedule: three refused attempts, a poll,
  // and the background retry's backoff (up to 15 s) once the socket works.
  test.slow();
  // The customer's context never gets a socket until the end.
  const context = await browser.newContext();
  const socket = await socketSwitch(context, false);
  const customer = await context.newPage();
  const agent = await (await browser.newContext()).newPage();
  await Promise.all([register(customer, 'Paula Proxy', uniqueEmail('paula')), login(agent, AGENT.email, AGENT.password)]);
  const id = await startConversation(customer, 'Behind a strict proxy');
  await agent.goto(`/inbox/${id}`);
  await expect(customer.getByTestId('polling')).toBeVisible({ timeout: 20_000 });
  await expect(customer.getByTestId('reconnecting')).toHaveCount(0);

  await hydrated(agent);

  // Sent with the server function, stored once.
  await write(customer, 'Sent without a socket');
  await expect(bubble(customer, 'Sent without a socket')).toBeVisible();
  await expect(customer.getByTestId('pending')).toHaveCount(0);
  await expect(bubble(agent, 'Sent without a socket')).toHaveCount(1);

  // Received by polling, status included.
  await sendAndWaitForAck(agent, 'Polled to you');
  await expect(bubble(customer, 'Polled to you')).toBeVisible({ timeout: 15_000 });
  await expect(customer.getByTestId('status')).toHaveText('Active');

  // The socket works again: the banner goes and messages arrive live.
  socket.on();
  await expect(customer.getByTestId('polling')).toHaveCount(0, { timeout: 30_000 });
  await write(agent, 'Live again');
  await expect(bubble(customer, 'Live again')).toBeVisible();
  await write(customer, 'Over the socket');
  await expect(bubble(agent, 'Over the socket')).toHaveCount(1);
});
