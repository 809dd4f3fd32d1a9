// Listeners and timers must not outlive the page that made them: after
// leaving a thread by an in-app link (no reload, so the WASM keeps running),
// window and document events that the thread listened for must not reach
// closures reading its disposed state. A panic there stops the whole app in
// the release build (panic = "abort").
import { expect, test, type Page } from '@playwright/test';
import { hydrated, register, uniqueEmail } from './support/app';

/** Console errors and uncaught page errors, from now on. */
function recordErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text().slice(0, 300));
  });
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  return errors;
}

/** What the browser fires when the tab goes to the back and comes to the front again. */
async function switchTabsAway(page: Page): Promise<void> {
  await page.evaluate(() => {
    window.dispatchEvent(new Event('blur'));
    // visibilitychange is fired at the document and bubbles to the window
    document.dispatchEvent(new Event('visibilitychange', { bubbles: true }));
    window.dispatchEvent(new Event('visibilitychange'));
    window.dispatchEvent(new Event('focus'));
  });
  // let anything scheduled by those events run
  await page.waitForTimeout(300);
}

test('leaving a thread in-app removes its window listeners: tab switches stay harmless', async ({ browser }) => {
  const page = await (await browser.newContext()).newPage();
  await register(page, 'Lou Listener', uniqueEmail('lou'));
  await page.goto('/messages/new');
  await hydrated(page);
  const form = page.getByTestId('new-conversation');
  await form.getByLabel('Message').fill('Checking that leaving a thread is clean.');
  await form.getByRole('button', { name: 'Start conversation' }).click();
  await expect(page).toHaveURL(/\/messages\/\d+$/);
  await expect(page.getByTestId('thread')).toContainText('Checking that leaving a thread is clean.');

  // While the thread is open, the same events are handled without a fault.
  const errors = recordErrors(page);
  await switchTabsAway(page);
  expect(errors, 'errors while the thread is open').toEqual([]);

  // Leave by an in-app link: client-side navigation disposes the thread.
  await page.getByRole('link', { name: '← All conversations' }).click();
  await expect(page).toHaveURL(/\/messages$/);
  await expect(page.getByTestId('conversation-list')).toBeVisible();

  await switchTabsAway(page);
  await switchTabsAway(page);
  expect(errors, 'errors after leaving the thread').toEqual([]);

  // The app still answers: in-app links still navigate.
  await page.getByRole('link', { name: 'New conversation' }).click();
  await expect(page).toHaveURL(/\/messages\/new$/);
  await expect(page.getByTestId('new-conversation')).toBeVisible();
  await page.getByRole('link', { name: 'Cancel' }).click();
  await expect(page).toHaveURL(/\/messages$/);
  await page.getByTestId('conversation-row').first().click();
  await expect(page.getByTestId('thread')).toContainText('Checking that leaving a thread is clean.');
  expect(errors, 'errors after navigating again').toEqual([]);
});
