import { defineConfig } from '@playwright/test';
import base from './playwright.config';

// The first-load measurement (end2end/measure), not part of the test suite:
// scripts/measure-first-load.sh builds the release site and runs this
// against the release server.
export default defineConfig({
  ...base,
  testDir: './measure',
  timeout: 600_000,
});
