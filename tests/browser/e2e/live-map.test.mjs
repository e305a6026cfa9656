// The demo's live map shows one marker per connected truck, updated live.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { baseUrl, openConsole, screenshot, login, credentials, listFromPage, eventually } from '../lib/browser.mjs';

let browser;
after(async () => { await browser?.close(); });

test('the live map shows one marker per connected truck', async () => {
  browser = await openConsole();
  const { page, problems } = browser;
  const { user, password } = credentials('dispatcher');
  await login(page, user, password);
  await page.goto(`${baseUrl()}/#/map`);
  await eventually(async () => (await page.getByTestId('live-status').getAttribute('data-state')) === 'connected', { what: 'the live socket' });
  // Trucks connect over the first seconds of the demo: wait until the map and the API agree.
  const agreed = await eventually(async () => {
    const vehicles = await listFromPage(page, '/vehicles');
    const withPosition = vehicles.filter((v) => v.latest).length;
    const total = Number(await page.getByTestId('marker-count').getAttribute('data-total'));
    return withPosition > 0 && total === withPosition ? { total, withPosition } : null;
  }, { timeoutMs: 90_000, intervalMs: 2000, what: 'one marker per vehicle with a position' });
  assert.ok(agreed.total >= 100, `the demo runs 200 trucks, the map shows ${agreed.total}`);
  // All states shown: the visible count equals the total.
  assert.equal(Number(await page.getByTestId('marker-count').getAttribute('data-count')), agreed.total);
  await screenshot(page, 'e2e-live-map');

  // A violation in the feed selects its truck and shows its details.
  const item = page.getByTestId('violation-item').first();
  await eventually(async () => (await page.getByTestId('violation-item').count()) > 0, { timeoutMs: 90_000, what: 'a violation in the feed' });
  await item.click();
  await page.getByTestId('truck-info').waitFor({ state: 'visible' });
  assert.ok((await page.getByTestId('truck-plate').textContent()).length > 0);
  assert.match(await page.getByTestId('truck-last-fix').textContent(), /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/);
  await screenshot(page, 'e2e-live-map-truck');
  assert.deepEqual(problems, []);
});
