// Every page as every role, once, on a phone-sized screen (390×844): an
// automated accessibility check (axe: no serious or critical violations),
// no sideways scrolling, the whole top bar on screen, and a title of its own.
// Thread pages also keep the composer on screen when the keyboard opens.
import AxeBuilder from '@axe-core/playwright';
import { expect, test, type Browser, type Page } from '@playwright/test';
import { ADMIN, AGENT, PASSWORD, hydrated, uniqueEmail } from './support/app';

const PHONE = { width: 390, height: 844 };
/** What is left of the phone's screen with the on-screen keyboard open. */
const PHONE_WITH_KEYBOARD = { width: 390, height: 480 };

async function phone(browser: Browser, credentials?: { email: string; password: string }): Promise<Page> {
  const context = await browser.newContext({ viewport: PHONE });
  if (credentials) {
    const signedIn = await context.request.post('/api/login', { form: credentials });
    expect(signedIn.ok()).toBe(true);
  }
  return context.newPage();
}

/** Loads `path` and checks it: axe, sideways scrolling, the top bar, its title. */
async function checkPage(page: Page, path: string, title: string | RegExp): Promise<void> {
  await page.goto(path);
  await hydrated(page);

  const results = await new AxeBuilder({ page }).analyze();
  const severe = results.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).join(' | ')}`);
  expect.soft(severe, `axe on ${path}`).toEqual([]);

  const overflow = await page.evaluate(
    () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
  );
  expect.soft(overflow, `sideways scroll on ${path}`).toBeLessThanOrEqual(0);
  const lastInBar = page.getByTestId('logout').or(page.getByRole('link', { name: 'Create account', exact: true }));
  await expect(lastInBar.first(), `the top bar fits on ${path}`).toBeInViewport({ ratio: 1 });
  await expect(page, `title of ${path}`).toHaveTitle(title);
}

/** The composer is on screen, and stays there once the keyboard takes half the screen. */
async function checkComposerOnScreen(page: Page): Promise<void> {
  const box = page.getByTestId('composer').getByLabel('Message');
  await expect(box).toBeInViewport({ ratio: 1 });
  await box.focus();
  await page.setViewportSize(PHONE_WITH_KEYBOARD);
  await expect(box).toBeInViewport({ ratio: 1 });
  await expect(page.getByTestId('composer').getByRole('button', { name: 'Send' })).toBeInViewport({ ratio: 1 });
  await page.setViewportSize(PHONE);
}

// One customer and their conversation, for every role's thread page.
const customer = { email: uniqueEmail('phone'), password: PASSWORD };
const subject = `Phone check ${Date.now().toString(36)}`;
let conversationId = '';

test.beforeAll(async ({ browser }) => {
  const context = await browser.newContext();
  const registered = await context.request.post('/api/register', { form: { name: 'Phoebe Phone', ...customer } });
  expect(registered.ok()).toBe(true);
  const started = await context.request.post('/api/conversations/start', {
    form: { subject, body: 'Checking the pages on a small screen.' },
  });
  expect(started.ok()).toBe(true);
  conversationId = String(await started.json());
  await context.close();
});

test('anonymous pages pass on a phone', async ({ browser }) => {
  const page = await phone(browser);
  await checkPage(page, '/', 'Talk to support · Parley');
  await checkPage(page, '/login', 'Sign in · Parley');
  await checkPage(page, '/register', 'Create your account · Parley');
  await checkPage(page, '/messages', 'Please sign in · Parley');
  await checkPage(page, '/nowhere', 'Not found · Parley');
  await page.context().close();
});

test('customer pages pass on a phone', async ({ browser }) => {
  const page = await phone(browser, customer);
  await checkPage(page, '/messages', 'Messages · Parley');
  await checkPage(page, '/messages/new', 'New conversation · Parley');
  await checkPage(page, `/messages/${conversationId}`, `${subject} · Parley`);
  await checkComposerOnScreen(page);
  await checkPage(page, '/inbox', 'Not allowed · Parley');
  await page.context().close();
});

test('agent pages pass on a phone', async ({ browser }) => {
  const page = await phone(browser, AGENT);
  await checkPage(page, '/inbox', /^(\(\d+\) )?Inbox · Parley$/);
  await checkPage(page, `/inbox/${conversationId}`, new RegExp(`^(\\(\\d+\\) )?${subject} · Parley$`));
  await checkComposerOnScreen(page);
  await page.context().close();
});

test('admin pages pass on a phone', async ({ browser }) => {
  const page = await phone(browser, ADMIN);
  await checkPage(page, '/inbox?tab=unassigned&unanswered=1', /^(\(\d+\) )?Inbox · Parley$/);
  await checkPage(page, `/inbox/${conversationId}`, new RegExp(`^(\\(\\d+\\) )?${subject} · Parley$`));
  await checkPage(page, '/admin/users', /^(\(\d+\) )?Users · Parley$/);
  await checkPage(page, '/admin/canned', /^(\(\d+\) )?Canned responses · Parley$/);
  await page.context().close();
});
