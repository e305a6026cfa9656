// A company login sees only its own trucks: on the live map and in its fleet view.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { baseUrl, openConsole, screenshot, login, credentials, listFromPage, eventually } from '../lib/browser.mjs';

let browser;
after(async () => { await browser?.close(); });

test('a company login sees only its own trucks', async () => {
  browser = await openConsole();
  const { page, problems } = browser;
  const { user, password } = credentials('company');
  await login(page, user, password);
  const companyId = await page.evaluate(() => JSON.parse(localStorage.getItem('haulwatch.session')).company_id);
  assert.ok(companyId, 'a company session is bound to its company');
  assert.equal(await page.evaluate(() => window.location.hash.split('?')[0]), '#/company');

  const own = await listFromPage(page, '/vehicles');
  assert.ok(own.length > 0);
  assert.deepEqual([...new Set(own.map((v) => v.company_id))], [companyId]);

  // Fleet view: every row is one of the company's vehicles, and all of them are there.
  await page.getByTestId('fleet-table').waitFor({ timeout: 20_000 });
  const rows = await page.getByTestId('fleet-row').evaluateAll((trs) => trs.map((tr) => ({ id: tr.dataset.vehicleId, company: tr.dataset.companyId })));
  assert.deepEqual(rows.map((r) => r.id).sort(), own.map((v) => v.id).sort());
  assert.ok(rows.every((r) => r.company === companyId));
  await screenshot(page, 'e2e-company');

  // Live map: exactly the company's trucks with a position, no one else's.
  await page.goto(`${baseUrl()}/#/map`);
  const withPosition = own.filter((v) => v.latest).length;
  await eventually(async () => Number(await page.getByTestId('marker-count').getAttribute('data-total')) === withPosition,
    { timeoutMs: 60_000, what: `${withPosition} markers (the company's trucks with a position)` });
  assert.equal(await page.getByTestId('company-filter').count(), 0, 'no company filter for a company');
  await screenshot(page, 'e2e-company-map');
  assert.deepEqual(problems, []);
});
