/**
 * The story a new user lives through, in Debian's Chromium against `bin/pinhole console` and a
 * real gateway: paste a link, check the preview, save, connect, send traffic through the local
 * proxy and watch stats and log lines move, route an app, change theme and language, disconnect.
 * The console keeps passwords in a real GNOME Keyring (Secret Service) inside its own D-Bus session.
 */
import { test, expect, type Page } from '@playwright/test';
import { execFile } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startGateway, type RunningGateway } from '../support/gateway.js';
import { startOrigin, type Origin } from '../support/origin.js';
import { repoRoot } from '../support/processes.js';
import { startConsoleProcess, type ConsoleProcess } from './support/console-process.js';

const run = promisify(execFile);
const screens = join(repoRoot, 'test-results', 'screens');

let origin: Origin;
let gateway: RunningGateway;
let consoleProcess: ConsoleProcess;
let consoleUrl: string;

// The story's browser speaks English; the System language test below opens a Spanish one.
test.use({ locale: 'en-US' });

const shot = async (page: Page, name: string): Promise<void> => {
  await page.screenshot({ path: join(screens, `${name}.png`) });
};

/** One request through the local proxy, made by curl so the proxy sees a real application. */
const curlThrough = async (proxy: string, url: string): Promise<string> => {
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin' };
  const { stdout } = await run('curl', ['-sS', '--max-time', '20', '-x', `http://${proxy}`, url], { env });
  return stdout;
};

test.beforeAll(async () => {
  await mkdir(screens, { recursive: true });
  origin = await startOrigin();
  gateway = await startGateway({ restrictTo: [`127.0.0.1:${origin.httpPort}`] });
  consoleProcess = await startConsoleProcess();
  consoleUrl = consoleProcess.url;
});

test.afterAll(async () => {
  await consoleProcess?.stop();
  await gateway?.stop();
  await origin?.stop();
});

test('a new user imports a link, connects, sees traffic and logs, routes an app, and disconnects', async ({ page }) => {
  const failures: string[] = [];
  page.on('pageerror', (error) => failures.push(String(error)));
  page.on('console', (message) => {
    if (message.type() === 'error') failures.push(message.text());
  });

  await page.goto(consoleUrl);
  await expect(page.getByRole('heading', { name: 'Welcome to Pinhole' })).toBeVisible();
  await shot(page, '01-welcome');

  // Paste the link IT sent: it is recognised and previewed before anything is saved.
  const link = await gateway.provision();
  await page.getByRole('button', { name: 'Add a profile' }).click();
  const box = page.getByLabel('Paste a Pinhole link');
  // A real paste: the link goes to the clipboard and Ctrl+V puts it in the box.
  await page.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: new URL(consoleUrl).origin });
  await page.evaluate((text) => navigator.clipboard.writeText(text), link);
  await box.focus();
  await page.keyboard.press('Control+V');
  await expect(box).toHaveValue(link);
  const preview = page.getByTestId('link-preview');
  await expect(preview).toBeVisible();
  await expect(preview).toContainText(`127.0.0.1:${gateway.port}`);
  await expect(preview).toContainText(gateway.users[0]?.name ?? 'alice');
  await expect(preview).toContainText((gateway.fingerprint.match(/../g) ?? []).join(':'));
  await expect(preview).not.toContainText(gateway.users[0]?.password ?? 'never');
  await expect(preview).toContainText(/stored in .*(Keyring|Secret Service|keychain)/i);
  await shot(page, '02-link-preview');
  await page.getByRole('button', { name: 'Save profile' }).click();
  await expect(page.getByTestId('profile-item')).toHaveCount(1);
  await expect(page.getByTestId('profile-item')).toContainText('password in keychain');
  await expect(page.getByText('Default', { exact: true })).toBeVisible();
  await shot(page, '03-profiles');

  // Connect with the one big switch; the log tail grows live while it happens.
  await page.getByRole('tab', { name: 'Logs' }).click();
  const linesBefore = await page.getByTestId('log-line').count();
  await page.getByRole('tab', { name: 'Home' }).click();
  const toggle = page.getByRole('switch', { name: 'Connect' });
  await toggle.click();
  await expect(page.getByTestId('state-words')).toHaveText(new RegExp(`^Connected to ${gateway.hostname.replace(/\./g, '\\.')}( via .+)?$`));
  await expect(toggle).toHaveAttribute('aria-checked', 'true');
  const proxy = (await page.getByTestId('proxy-address').textContent())?.trim() ?? '';
  expect(proxy).toMatch(/^127\.0\.0\.1:\d+$/);

  // Traffic through the local proxy moves the stats.
  const before = await page.getByTestId('bytes-total').textContent();
  for (let i = 0; i < 5; i++) {
    const body = await curlThrough(proxy, `http://127.0.0.1:${origin.httpPort}/bytes/20000`);
    expect(body.length).toBeGreaterThan(0);
  }
  await expect(page.getByTestId('bytes-total')).not.toHaveText(before ?? '');
  await expect(page.getByText(/\d+ since connecting/)).not.toHaveText('0 since connecting');
  await shot(page, '04-home-connected');

  // The log shows what happened, and can be searched.
  await page.getByRole('tab', { name: 'Logs' }).click();
  await expect(page.getByTestId('log-line').filter({ hasText: /Connected to the gateway|connected/i }).first()).toBeVisible();
  const lines = await page.getByTestId('log-line').count();
  expect(lines).toBeGreaterThan(linesBefore);
  await page.getByRole('searchbox', { name: 'Search the log' }).fill('connected');
  await expect(page.getByTestId('log-line').first()).toBeVisible();
  expect(await page.getByTestId('log-line').count()).toBeLessThanOrEqual(lines);
  await expect(page.getByRole('log')).not.toContainText(gateway.users[0]?.password ?? 'never');
  await shot(page, '05-logs');
  await page.getByRole('searchbox', { name: 'Search the log' }).fill('');

  // The app that made the requests is listed, and can be sent direct.
  await page.getByRole('tab', { name: 'Apps' }).click();
  const curlApp = page.getByTestId('app-item').filter({ hasText: 'curl' });
  await expect(curlApp).toBeVisible();
  await curlApp.getByRole('radio', { name: 'Direct' }).click();
  await expect(curlApp.getByRole('radio', { name: 'Direct' })).toHaveAttribute('aria-checked', 'true');
  await shot(page, '06-apps');

  // Theme and language.
  await page.getByRole('tab', { name: 'Settings' }).click();
  await page.getByRole('radio', { name: 'Dark' }).click();
  await expect(page.locator('html')).toHaveAttribute('data-theme', 'dark');
  await shot(page, '07-settings-dark');
  // A new install follows the browser's language until the user picks one.
  await expect(page.getByLabel('Language')).toHaveValue('system');
  await expect(page.getByLabel('Language').locator('option:checked')).toHaveText('System (English)');
  await page.getByLabel('Language').selectOption('es');
  await expect(page.getByRole('tab', { name: 'Ajustes' })).toBeVisible();
  await expect(page.locator('html')).toHaveAttribute('lang', 'es');
  await shot(page, '08-settings-es');
  await page.getByLabel('Idioma').selectOption('zh-CN');
  await expect(page.getByRole('tab', { name: '设置' })).toBeVisible();
  await page.getByRole('tab', { name: '主页' }).click();
  await shot(page, '09-home-zh');
  await page.getByRole('tab', { name: '设置' }).click();
  await expect(page.getByLabel('语言').locator('option[value="system"]')).toHaveText('跟随系统（English）');
  await page.getByLabel('语言').selectOption('system');
  await expect(page.getByRole('tab', { name: 'Settings' })).toBeVisible();
  await expect(page.locator('html')).toHaveAttribute('lang', 'en');
  await page.getByRole('radio', { name: 'Light' }).click();
  await expect(page.locator('html')).toHaveAttribute('data-theme', 'light');

  // Disconnect.
  await page.getByRole('tab', { name: 'Home' }).click();
  await page.getByRole('switch', { name: 'Connect' }).click();
  await expect(page.getByTestId('state-words')).toHaveText('Not connected');
  await shot(page, '10-home-disconnected');
  expect(failures).toEqual([]);
});

test('with the System language a Spanish browser gets Spanish, and an explicit English choice wins over it', async ({ browser }) => {
  const own = await startConsoleProcess();
  const context = await browser.newContext({ locale: 'es-ES' });
  try {
    const page = await context.newPage();
    await page.goto(own.url);
    await expect(page.getByRole('heading', { name: 'Te damos la bienvenida a Pinhole' })).toBeVisible();
    await expect(page.locator('html')).toHaveAttribute('lang', 'es');
    await page.getByRole('tab', { name: 'Ajustes' }).click();
    const select = page.getByLabel('Idioma');
    await expect(select).toHaveValue('system');
    await expect(select.locator('option:checked')).toHaveText('Sistema (Español)');
    await shot(page, '11-settings-system-es');
    await select.selectOption('en');
    await expect(page.getByRole('tab', { name: 'Settings' })).toBeVisible();
    // The choice is stored: a reload in the same Spanish browser stays English.
    await page.reload();
    await expect(page.getByRole('tab', { name: 'Settings' })).toBeVisible();
    await expect(page.locator('html')).toHaveAttribute('lang', 'en');
  } finally {
    await context.close();
    await own.stop();
  }
});

test('the console refuses a browser without the token and a page from another origin', async ({ page, request }) => {
  // Its own console, so this test does not depend on the story above having used the token.
  const own = await startConsoleProcess();
  const { origin: consoleOrigin } = new URL(own.url);
  try {
    const noToken = await request.get(`${consoleOrigin}/`);
    expect(noToken.status()).toBe(403);
    const wrong = await request.get(`${consoleOrigin}/?token=not-the-token`, { maxRedirects: 0 });
    expect(wrong.status()).toBe(403);
    const first = await request.get(own.url, { maxRedirects: 0 });
    expect(first.status()).toBe(303);
    const reused = await page.context().request.get(own.url, { maxRedirects: 0 });
    expect(reused.status()).toBe(403);
    expect(await reused.text()).toContain('already used');
    // A page from another local origin trying the WebSocket is closed with a policy violation.
    const foreign = createServer((_req, res) => res.end('<!doctype html><title>not pinhole</title>'));
    await new Promise<void>((resolve) => foreign.listen(0, '127.0.0.1', resolve));
    await page.goto(`http://127.0.0.1:${(foreign.address() as AddressInfo).port}/`);
    const closed = await page.evaluate(
      (url) =>
        new Promise<{ code: number; reason: string }>((resolve) => {
          const ws = new WebSocket(url);
          ws.onclose = (event) => resolve({ code: event.code, reason: event.reason });
        }),
      `${consoleOrigin.replace('http', 'ws')}/ws`,
    );
    foreign.close();
    expect(closed.code).toBe(1008);
    expect(closed.reason).toMatch(/foreign Origin/);
  } finally {
    await own.stop();
  }
});
