// The first load of a page on a slow phone, measured (docs/performance.md,
// "First page load"): Chromium's DevTools protocol throttles the network to
// DevTools' "Fast 3G" profile (562.5 ms round trip, 1.44 Mbit/s down,
// 675 kbit/s up) and the CPU 4×, then loads each page with a cold cache and
// records what was transferred (bytes on the wire, compressed as served) and
// when the page became interactive: `data-hydrated` on <body>, which the App
// sets once the WASM has hydrated it. A measurement, not a test: it fails
// only if a page never hydrates. Run with scripts/measure-first-load.sh.
import { test, type CDPSession } from '@playwright/test';

const FAST_3G = {
  offline: false,
  latency: 562.5,
  downloadThroughput: (1_474.56 * 1024) / 8,
  uploadThroughput: (675 * 1024) / 8,
};
const CPU_SLOWDOWN = 4;
const RUNS = Number(process.env.PARLEY_MEASURE_RUNS ?? 3);
const PAGES = ['/login', '/register'];

type Load = { bytes: Record<string, number>; html_ms: number; dcl_ms: number; interactive_ms: number };

async function measure(cdp: CDPSession, run: () => Promise<void>): Promise<Record<string, number>> {
  const types = new Map<string, string>();
  const bytes: Record<string, number> = {};
  cdp.on('Network.responseReceived', (e) => types.set(e.requestId, kindOf(e.response.mimeType, e.response.url)));
  cdp.on('Network.loadingFinished', (e) => {
    const kind = types.get(e.requestId) ?? 'other';
    bytes[kind] = (bytes[kind] ?? 0) + e.encodedDataLength;
  });
  await run();
  return bytes;
}

function kindOf(mime: string, url: string): string {
  if (mime.includes('wasm') || url.endsWith('.wasm')) return 'wasm';
  if (mime.includes('javascript')) return 'js';
  if (mime.includes('css')) return 'css';
  if (mime.includes('html')) return 'html';
  return 'other';
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

test('first load on Fast 3G with a 4x slower CPU', async ({ browser }) => {
  test.setTimeout(RUNS * PAGES.length * 90_000);
  const results: Record<string, Load[]> = {};
  for (const path of PAGES) {
    results[path] = [];
    for (let i = 0; i < RUNS; i++) {
      // A new context each time: a cold cache, as on a first visit.
      const context = await browser.newContext();
      const page = await context.newPage();
      const cdp = await context.newCDPSession(page);
      await cdp.send('Network.enable');
      await cdp.send('Network.setCacheDisabled', { cacheDisabled: true });
      await cdp.send('Network.emulateNetworkConditions', FAST_3G);
      await cdp.send('Emulation.setCPUThrottlingRate', { rate: CPU_SLOWDOWN });
      let timing = { html_ms: 0, dcl_ms: 0, interactive_ms: 0 };
      const bytes = await measure(cdp, async () => {
        const started = Date.now();
        await page.goto(path, { waitUntil: 'commit' });
        const html = Date.now() - started;
        await page.waitForLoadState('domcontentloaded');
        const dcl = Date.now() - started;
        await page.locator('body[data-hydrated="true"]').waitFor({ timeout: 80_000 });
        timing = { html_ms: html, dcl_ms: dcl, interactive_ms: Date.now() - started };
        // Let the last responses finish so their bytes are counted.
        await page.waitForLoadState('networkidle');
      });
      results[path].push({ bytes, ...timing });
      await context.close();
    }
  }
  const rows = Object.entries(results).map(([path, loads]) => {
    const total = (l: Load) => Object.values(l.bytes).reduce((a, b) => a + b, 0);
    const kb = (n: number) => Math.round(n / 100) / 10;
    const last = loads[loads.length - 1];
    return {
      page: path,
      runs: loads.length,
      total_kb: kb(median(loads.map(total))),
      wasm_kb: kb(last.bytes.wasm ?? 0),
      js_kb: kb(last.bytes.js ?? 0),
      css_kb: kb(last.bytes.css ?? 0),
      html_kb: kb(last.bytes.html ?? 0),
      first_byte_ms: median(loads.map((l) => l.html_ms)),
      dom_content_loaded_ms: median(loads.map((l) => l.dcl_ms)),
      interactive_ms: median(loads.map((l) => l.interactive_ms)),
    };
  });
  console.table(rows);
  console.log(JSON.stringify({ mode: 'first-load', network: 'Fast 3G', cpu_slowdown: CPU_SLOWDOWN, pages: rows }));
});
