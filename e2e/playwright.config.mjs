// End-to-end scenarios in Debian's Chromium (nothing downloads a browser)
// against presence-server processes the tests start themselves, serving the
// bundled demo (tools/bundle). Run by tools/test; by hand:
//   tools/build native wasm && tools/bundle && (cd e2e && npx playwright test)
import { defineConfig } from '@playwright/test';

export default defineConfig({
  testDir: './tests',
  outputDir: './artifacts/test-results',
  timeout: 60_000,
  expect: { timeout: 10_000 },
  // Two cores: one worker per core; each worker has its own server.
  workers: Number(process.env.E2E_WORKERS ?? 2),
  fullyParallel: false,
  retries: 0,
  reporter: [['list'], ['json', { outputFile: './artifacts/results.json' }]],
  use: {
    browserName: 'chromium',
    headless: true,
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: ['--no-sandbox'],
    },
    viewport: { width: 1100, height: 720 },
    // No trace: its screencast takes the page's focus and hides idleness.
    trace: 'off',
    screenshot: 'only-on-failure',
  },
});
