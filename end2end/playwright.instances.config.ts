import { defineConfig } from '@playwright/test';
import { chromiumArgs } from './playwright.config';

// The browser tests of a scaled-out Parley: two instances on one PostgreSQL
// and one Redis, behind nginx with deploy/nginx/parley.conf. The servers are
// started (and stopped) by ../scripts/e2e-instances.sh, which runs Playwright
// with PARLEY_BASE_URL (nginx) and PARLEY_INSTANCE_A / _B (the instances'
// addresses, as nginx's X-Parley-Upstream header names them):
//
//   scripts/test.sh e2e-instances
//   scripts/e2e-instances.sh -- npx --prefix end2end playwright test --config end2end/playwright.instances.config.ts
const baseURL = process.env.PARLEY_BASE_URL;
if (!baseURL || !process.env.PARLEY_INSTANCE_A || !process.env.PARLEY_INSTANCE_B) {
  throw new Error(
    'PARLEY_BASE_URL, PARLEY_INSTANCE_A and PARLEY_INSTANCE_B are not set: run these tests through ' +
      'scripts/e2e-instances.sh (or scripts/test.sh e2e-instances), which starts nginx and the two instances',
  );
}

export default defineConfig({
  testDir: './tests-instances',
  timeout: 90_000,
  expect: { timeout: 10_000 },
  fullyParallel: false,
  workers: 1,
  retries: 0,
  reporter: [['list']],
  use: {
    baseURL,
    // Debian's Chromium: never a browser downloaded by Playwright.
    launchOptions: { executablePath: '/usr/bin/chromium', args: chromiumArgs },
    trace: 'retain-on-failure',
  },
  projects: [{ name: 'chromium', use: { browserName: 'chromium' } }],
});
