import { defineConfig } from '@playwright/test';

// One server for the suite, started by ../scripts/e2e-server.sh on a fresh
// SQLite file with the demo accounts. Set PARLEY_BASE_URL to test a server
// you started yourself instead.
const port = Number(process.env.PARLEY_E2E_PORT ?? 3100);
const baseURL = process.env.PARLEY_BASE_URL ?? `http://127.0.0.1:${port}`;

export const chromiumArgs = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export default defineConfig({
  testDir: './tests',
  timeout: 60_000,
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
  webServer: process.env.PARLEY_BASE_URL
    ? undefined
    : {
        command: 'bash ../scripts/e2e-server.sh',
        url: `${baseURL}/healthz`,
        reuseExistingServer: false,
        timeout: 120_000,
        stdout: 'ignore',
        stderr: 'pipe',
        env: { PARLEY_E2E_PORT: String(port) },
      },
});
