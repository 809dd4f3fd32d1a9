// Every page, as every role, hydrates without a single console error: a
// hydration mismatch leaves a page that looks right but ignores clicks. And
// each page downloads only its own code (app/src/routes.rs: the pages behind
// an account load on demand).
import { expect, test, type Page } from '@playwright/test';
import { ADMIN, AGENT, hydrated, login, register, uniqueEmail } from './support/app';

async function visitCleanly(page: Page, path: string): Promise<void> {
  const errors: string[] = [];
  const onConsole = (m: { type(): string; text(): string }) => {
    // The browser logs a page's own 401/403/404 status as a failed load:
    // those statuses are intended (see the role gates), not errors.
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) errors.push(m.text().slice(0, 300));
  };
  page.on('console', onConsole);
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(path);
  await hydrated(page);
  // let late effects run too
  await page.waitForTimeout(300);
  page.off('console', onConsole);
  expect(errors, `console errors on ${path}`).toEqual([]);
}

test('every page hydrates without errors, for every role', async ({ browser }) => {
  // 28 page loads of the debug build: about a minute on a quiet 2-core
  // machine, more when it is shared. A time limit here says nothing about
  // hydration, so this one test gets three times the default.
  test.slow();
  const guest = await (await browser.newContext()).newPage();
  for (const path of ['/', '/login', '/register', '/messages', '/inbox', '/nowhere']) {
    await visitCleanly(guest, path);
  }

  const customer = await (await browser.newContext()).newPage();
  await register(customer, 'Hydra Customer', uniqueEmail('hydra'));
  await customer.goto('/messages/new');
  await hydrated(customer);
  await customer.getByTestId('new-conversation').getByLabel('Message').fill('Checking every page.');
  await customer.getByRole('button', { name: 'Start conversation' }).click();
  await expect(customer).toHaveURL(/\/messages\/\d+$/);
  const id = new URL(customer.url()).pathname.split('/').pop();
  for (const path of ['/', '/messages', `/messages/${id}`, '/messages/new', '/inbox', '/admin/users', '/messages/999999']) {
    await visitCleanly(customer, path);
  }

  for (const who of [AGENT, ADMIN]) {
    const staff = await (await browser.newContext()).newPage();
    await login(staff, who.email, who.password);
    for (const path of ['/', '/inbox', '/inbox?tab=mine', '/inbox?tab=unassigned&unanswered=1', `/inbox/${id}`, '/admin/users', '/admin/canned', '/messages']) {
      await visitCleanly(staff, path);
    }
  }
});

/** The code a page fetched on demand (`cargo leptos build --split` names a
 *  lazy route's chunk `split___<route>_view_*.wasm` and a lazy function's
 *  `split_<function>_*.wasm`), by route or function name. */
function splitChunks(page: Page): string[] {
  const fetched: string[] = [];
  page.on('request', (request) => {
    const name = new URL(request.url()).pathname.match(/^\/pkg\/split_+(\w+?)(?:_view)?_\d+\.wasm$/);
    if (name) fetched.push(name[1]);
  });
  return fetched;
}

test("a first visit downloads no signed-in page's code, and a customer never the staff pages'", async ({ browser }) => {
  const visitor = await (await browser.newContext()).newPage();
  const visitorFetched = splitChunks(visitor);
  for (const path of ['/', '/login', '/register']) {
    await visitor.goto(path);
    await hydrated(visitor);
  }
  expect(visitorFetched).toEqual([]);

  const customer = await (await browser.newContext()).newPage();
  const customerFetched = splitChunks(customer);
  await register(customer, 'Lean Customer', uniqueEmail('lean'));
  // Client-side navigation to a page behind an account fetches its code then.
  await customer.getByRole('link', { name: 'Messages', exact: true }).click();
  await expect(customer.getByRole('heading', { name: 'Messages', level: 1 })).toBeVisible();
  expect(customerFetched).toContain('messages');
  // The live connection loop, once signed in.
  expect(customerFetched).toContain('run_lazily');
  expect(customerFetched.filter((route) => ['inbox', 'staff_thread', 'users', 'canned'].includes(route))).toEqual([]);
});
