import { defineConfig } from '@playwright/test';

// Debian's Chromium against a running local stack (`make browser`, or the walkthrough inside
// `make test`); Playwright's own browser download is never used.
export default defineConfig({
  testDir: './tests',
  workers: 1,
  fullyParallel: false,
  retries: 0,
  forbidOnly: true,
  timeout: 240_000,
  expect: { timeout: 20_000 },
  reporter: [['list']],
  outputDir: 'test-results',
  use: {
    baseURL: process.env.CAPYDB_API_URL,
    viewport: { width: 1280, height: 800 },
    screenshot: 'only-on-failure',
    trace: 'retain-on-failure',
    launchOptions: {
      executablePath: process.env.CAPYDB_CHROMIUM ?? '/usr/bin/chromium',
      // This machine's network is closed: Chromium's own background traffic only adds noise.
      args: [
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    },
  },
});
