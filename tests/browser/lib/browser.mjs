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

/**
 * Credentials for one role from the environment, e.g. HAULWATCH_DISPATCHER_USER and
 * HAULWATCH_DISPATCHER_PASSWORD (`haulwatch demo` prints them). Fails clearly when unset.
 */
export function credentials(role) {
  const prefix = `HAULWATCH_${role.toUpperCase()}`;
  const user = process.env[`${prefix}_USER`];
  const password = process.env[`${prefix}_PASSWORD`];
  if (!user || !password) throw new Error(`${prefix}_USER and ${prefix}_PASSWORD must name a ${role} login of the running demo`);
  return { user, password };
}

/** Calls the API from inside the page with the logged-in session's token; returns JSON. */
export async function apiFromPage(page, path) {
  return page.evaluate(async (target) => {
    const session = JSON.parse(localStorage.getItem('haulwatch.session') || 'null');
    const response = await fetch(`/api/v1${target}`, { headers: { Authorization: `Bearer ${session && session.token}` } });
    if (!response.ok) throw new Error(`${target}: HTTP ${response.status}`);
    return response.json();
  }, path);
}

/** All items of a list endpoint, following `next` cursors, through the page's session. */
export async function listFromPage(page, path) {
  const items = [];
  let cursor = null;
  do {
    const separator = path.includes('?') ? '&' : '?';
    const answer = await apiFromPage(page, `${path}${separator}limit=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    items.push(...(answer.items || []));
    cursor = answer.next || null;
  } while (cursor);
  return items;
}

/** Polls `probe` until it returns a truthy value or `timeoutMs` passes; returns the value. */
export async function eventually(probe, { timeoutMs = 60_000, intervalMs = 1000, what = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    last = await probe();
    if (last) return last;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${JSON.stringify(last)})`);
}
