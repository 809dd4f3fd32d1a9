// A burst over the send limit (60 a minute, with bursts up to that) is
// stored in the order it was written: the refused tail waits in the outbox
// and goes out in order as the limit allows (#8).
import { expect, test } from '@playwright/test';
import { register, startConversation, uniqueEmail } from './support/app';

test('a burst over the send limit is stored once each, in the order written', async ({ page }) => {
  test.slow();
  await register(page, 'Bruno Burst', uniqueEmail('bruno'));
  await startConversation(page, 'Counting out loud');
  const box = page.getByTestId('composer').getByLabel('Message');
  const written = Array.from({ length: 64 }, (_, i) => `count ${i + 1}`);
  for (const text of written) {
    await box.fill(text);
    await box.press('Enter');
  }
  // The limit lets one more through each second: a few seconds for the tail.
  await expect(page.getByTestId('pending')).toHaveCount(0, { timeout: 30_000 });
  // Acknowledged messages are shown by seq, the order the server stored them.
  const stored = await page.getByTestId('message').locator('.bubble').allTextContents();
  expect(stored.filter((t) => t.startsWith('count '))).toEqual(written);
});
