// Browser tests: the console UI in Debian's Chromium (never a downloaded browser), and the
// Electron tests wherever an Electron binary exists. Screenshots go to test-results/screens/.
import { defineConfig } from '@playwright/test';

export default defineConfig({
  testDir: 'test/ui',
  testMatch: /.*\.spec\.ts$/,
  outputDir: 'test-results/playwright',
  timeout: 180_000,
  expect: { timeout: 20_000 },
  workers: 1,
  fullyParallel: false,
  retries: 0,
  reporter: process.env.CI ? [['list'], ['html', { open: 'never', outputFolder: 'playwright-report' }]] : 'list',
  projects: [
    // The browser console against a real gateway (Linux: gnome-keyring through dbus-run-session).
    { name: 'console', testMatch: /console.*\.spec\.ts$/ },
    // The Electron shell: runs where an Electron binary exists (CI runners), skips here saying why.
    { name: 'electron', testMatch: /electron\.spec\.ts$/ },
  ],
  use: {
    browserName: 'chromium',
    viewport: { width: 900, height: 640 },
    trace: 'retain-on-failure',
    screenshot: 'only-on-failure',
    launchOptions: {
      executablePath: process.env.PINHOLE_CHROMIUM ?? '/usr/bin/chromium',
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    },
  },
});
