// Two Parley instances behind nginx (deploy/nginx/parley.conf), one
// PostgreSQL, one Redis: the customer's browser is pinned to instance a and
// the agent's to instance b (the `parley_pin` cookie nginx maps to an
// upstream), and everything live crosses between them over the proxied
// WebSockets: presence, a new conversation in the inbox, messages both ways,
// typing, "Seen". Every response each page got, and each socket handshake,
// must come from its own instance (nginx's X-Parley-Upstream header).
import { expect, request, test, type Browser, type Page } from '@playwright/test';
import { AGENT, hydrated, login, register, startConversation, uniqueEmail } from '../tests/support/app';

const baseURL = process.env.PARLEY_BASE_URL ?? '';
const instance = { a: process.env.PARLEY_INSTANCE_A ?? '', b: process.env.PARLEY_INSTANCE_B ?? '' };
const UPSTREAM = 'x-parley-upstream';

interface Pinned {
  page: Page;
  /** X-Parley-Upstream of every HTTP response from nginx the page got. */
  http: Set<string>;
  /** X-Parley-Upstream of every WebSocket handshake (101) the page made. */
  sockets: string[];
}

/** A fresh browser context whose requests nginx sends to one instance. */
async function pinnedPage(browser: Browser, pin: 'a' | 'b'): Promise<Pinned> {
  const context = await browser.newContext();
  await context.addCookies([{ name: 'parley_pin', value: pin, url: baseURL }]);
  const page = await context.newPage();
  const pinned: Pinned = { page, http: new Set(), sockets: [] };
  page.on('response', (response) => {
    if (response.url().startsWith(baseURL)) pinned.http.add(response.headers()[UPSTREAM] ?? '(no header)');
  });
  // Playwright does not show a WebSocket's handshake response; Chromium's
  // DevTools protocol does.
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  cdp.on('Network.webSocketHandshakeResponseReceived', (event) => {
    const headers = event.response.headers as Record<string, string>;
    const name = Object.keys(headers).find((key) => key.toLowerCase() === UPSTREAM);
    pinned.sockets.push(`${event.response.status} ${name ? headers[name] : '(no header)'}`);
  });
  return pinned;
}

function bubble(page: Page, text: string) {
  return page.getByTestId('message').filter({ hasText: text });
}

function composer(page: Page) {
  return page.getByTestId('composer').getByLabel('Message');
}

test('nginx spreads unpinned requests over both instances and keeps a pinned one on its own', async () => {
  const anyone = await request.newContext({ baseURL });
  const seen = new Set<string>();
  for (let i = 0; i < 6; i++) {
    const response = await anyone.get('/healthz');
    expect(response.status()).toBe(200);
    seen.add(response.headers()[UPSTREAM]);
  }
  expect([...seen].sort()).toEqual([instance.a, instance.b].sort());
  await anyone.dispose();

  for (const pin of ['a', 'b'] as const) {
    const pinned = await request.newContext({ baseURL, extraHTTPHeaders: { cookie: `parley_pin=${pin}` } });
    for (let i = 0; i < 3; i++) {
      expect((await pinned.get('/healthz')).headers()[UPSTREAM]).toBe(instance[pin]);
    }
    await pinned.dispose();
  }
});

test('a customer on instance a and an agent on instance b talk live through nginx', async ({ browser }) => {
  const customer = await pinnedPage(browser, 'a');
  const agent = await pinnedPage(browser, 'b');
  const c = customer.page;
  const s = agent.page;

  // Presence: nobody from support is connected yet.
  const customerName = 'Cora Crossing';
  await register(c, customerName, uniqueEmail('cora'));
  await c.goto('/messages');
  await hydrated(c);
  const status = c.getByTestId('support-status');
  await expect(status).toHaveAttribute('data-online', 'false');

  // The agent goes online on b; the customer's page on a says so.
  await login(s, AGENT.email, AGENT.password);
  await s.goto('/inbox');
  await hydrated(s);
  await s.getByTestId('availability').selectOption('online');
  await expect(status).toHaveAttribute('data-online', 'true');
  await expect(status).toHaveText('Support is online');

  // A conversation created on a appears in b's inbox, live.
  const first = 'Hello from instance a: where is my parcel?';
  const id = await startConversation(c, first);
  await expect(bubble(c, first).getByTestId('sent')).toBeVisible();
  const row = s.getByTestId('conversation-row').filter({ hasText: first });
  await expect(row).toBeVisible();

  // The agent opens it on b: "Seen" on the customer's side on a.
  await s.goto(`/inbox/${id}`);
  await hydrated(s);
  await expect(bubble(s, first)).toBeVisible();
  await expect(bubble(c, first).getByTestId('seen')).toBeVisible();

  // b → a: typing, then the reply; the customer reads it, b sees "Seen".
  await composer(s).pressSequentially('Let me check');
  await expect(c.getByTestId('typing')).toHaveText('Avery Agent is typing…');
  const reply = 'Answered from instance b: it arrives tomorrow.';
  await composer(s).fill(reply);
  await composer(s).press('Enter');
  await expect(bubble(c, reply)).toContainText('Avery Agent · Support');
  await expect(c.getByTestId('typing')).toHaveText('');
  await expect(bubble(s, reply).getByTestId('seen')).toBeVisible();

  // a → b: typing, then a message; b reads it, a sees "Seen".
  await composer(c).pressSequentially('Great');
  await expect(s.getByTestId('typing')).toHaveText(`${customerName} is typing…`);
  const thanks = 'Thanks, sent from instance a!';
  await composer(c).fill(thanks);
  await composer(c).press('Enter');
  await expect(bubble(s, thanks)).toBeVisible();
  await expect(s.getByTestId('typing')).toHaveText('');
  await expect(bubble(c, thanks).getByTestId('seen')).toBeVisible();
  await expect(c.getByTestId('pending')).toHaveCount(0);

  // Live over the sockets all along: neither page fell back to polling.
  await expect(c.getByTestId('polling')).toHaveCount(0);
  await expect(s.getByTestId('polling')).toHaveCount(0);

  // Each message once on each side.
  for (const page of [c, s]) {
    for (const text of [first, reply, thanks]) {
      await expect(bubble(page, text)).toHaveCount(1);
    }
  }

  // Every response and every socket of each page came from its instance.
  expect([...customer.http]).toEqual([instance.a]);
  expect([...agent.http]).toEqual([instance.b]);
  expect(customer.sockets.length).toBeGreaterThan(0);
  expect(agent.sockets.length).toBeGreaterThan(0);
  expect(new Set(customer.sockets)).toEqual(new Set([`101 ${instance.a}`]));
  expect(new Set(agent.sockets)).toEqual(new Set([`101 ${instance.b}`]));

  // The agent's tab closes on b: offline on a once the grace (3 s) is over.
  await s.context().close();
  await expect(status).toHaveAttribute('data-online', 'false', { timeout: 15_000 });
  await c.context().close();
});
