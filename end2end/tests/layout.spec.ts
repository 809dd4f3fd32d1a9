// Layout against long content: a preview with no place to break (a run of
// emoji, a long URL, a subject with no spaces) must not widen the inbox.
import { expect, test, type Page } from '@playwright/test';
import { AGENT, PASSWORD, hydrated, uniqueEmail } from './support/app';

/** How far the document scrolls sideways (0 when it fits). */
async function sidewaysOverflow(page: Page): Promise<number> {
  return page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
}

test('long previews are cut with an ellipsis and never widen the staff inbox', async ({ browser }) => {
  const customer = await browser.newContext();
  const registered = await customer.request.post('/api/register', {
    form: { name: 'Lena Longpreview', email: uniqueEmail('long'), password: PASSWORD },
  });
  expect(registered.ok()).toBe(true);
  const stamp = Date.now().toString(36);
  const bodies = [
    '😀'.repeat(400),
    `https://example.com/track/${'a1b2c3d4'.repeat(60)}?order=${stamp}`,
  ];
  for (const body of bodies) {
    const started = await customer.request.post('/api/conversations/start', {
      form: { subject: `Unbroken${'X'.repeat(150)}${stamp}`, body },
    });
    expect(started.ok()).toBe(true);
  }
  await customer.close();

  const staff = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const signedIn = await staff.request.post('/api/login', { form: { email: AGENT.email, password: AGENT.password } });
  expect(signedIn.ok()).toBe(true);
  const page = await staff.newPage();
  await page.goto('/inbox');
  await hydrated(page);
  const rows = page.getByTestId('conversation-row').filter({ hasText: stamp });
  await expect(rows).toHaveCount(2);

  for (const width of [1280, 390]) {
    await page.setViewportSize({ width, height: 800 });
    expect(await sidewaysOverflow(page), `sideways scroll at ${width} px`).toBeLessThanOrEqual(0);
    const list = await page.getByTestId('conversation-list').boundingBox();
    for (const row of await rows.all()) {
      // The time column stays inside the card…
      const time = await row.locator('time').boundingBox();
      expect(time && list && time.x + time.width <= list.x + list.width, `time inside the card at ${width} px`).toBe(true);
      // …and the preview is cut, with an ellipsis.
      const preview = row.locator('.conv-preview');
      const cut = await preview.evaluate((el) => ({
        truncated: el.scrollWidth > el.clientWidth,
        ellipsis: getComputedStyle(el).textOverflow === 'ellipsis',
      }));
      expect(cut, `preview cut at ${width} px`).toEqual({ truncated: true, ellipsis: true });
    }
  }
  await staff.close();
});
