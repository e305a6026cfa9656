// Shared set-up for the console's browser tests: Debian's Chromium driven by playwright-core
// (no browser download: the machine is offline), a fresh profile per launch, screenshots under
// target/screenshots/, and a record of page errors and off-origin requests.

import { mkdtemp, mkdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(here, '..', '..', '..');

/** Where screenshots go (HAULWATCH_SCREENSHOTS, default target/screenshots). */
export const screenshotDir = process.env.HAULWATCH_SCREENSHOTS || path.join(repoRoot, 'target', 'screenshots');

/** Flags that let Chromium run as root in a sandbox with no network but loopback. */
export const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

/** The console's base URL, from HAULWATCH_URL (fails clearly when missing). */
export function baseUrl() {
  const url = process.env.HAULWATCH_URL;
  if (!url) throw new Error('HAULWATCH_URL is not set: the address of a running haulwatch console, e.g. http://127.0.0.1:8080');
  return url.replace(/\/$/, '');
}

/**
 * Launches Chromium with a fresh --user-data-dir and returns { context, page, problems, close }.
 * `problems` collects uncaught page errors, console errors and requests that left the origin.
 * `options` are Playwright context options (timezoneId, viewport, locale…).
 */
export async function openConsole(options = {}) {
  const executablePath = process.env.HAULWATCH_CHROMIUM || '/usr/bin/chromium';
  const profile = await mkdtemp(path.join(tmpdir(), 'haulwatch-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1400, height: 900 },
    ...options,
  });
  const origin = new URL(baseUrl()).origin;
  const problems = [];
  const watch = (page) => {
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(`console error: ${message.text()}`);
    });
    page.on('request', (request) => {
      const url = request.url();
      if (!url.startsWith(origin) && !url.startsWith('data:') && !url.startsWith('blob:')) problems.push(`off-origin request: ${url}`);
    });
  };
  context.on('page', watch);
  const page = context.pages()[0] || await context.newPage();
  watch(page);
  return {
    context,
    page,
    problems,
    async close() {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}

/** Saves a full-page screenshot as target/screenshots/<name>.png; returns the path. */
export async function screenshot(page, name) {
  await mkdir(screenshotDir, { recursive: true });
  const file = path.join(screenshotDir, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

/** Logs in through the console's login form and waits for the landing page. */
export async function login(page, username, password) {
  await page.goto(`${baseUrl()}/#/login`);
  await page.getByTestId('login-username').fill(username);
  await page.getByTestId('login-password').fill(password);
  await page.getByTestId('login-submit').click();
  await page.waitForFunction(() => !window.location.hash.startsWith('#/login'), null, { timeout: 15_000 });
}
