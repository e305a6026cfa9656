// A violation case appears in the list, its detail shows the evidence track, and the
// dispatcher files a case through the console.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { baseUrl, openConsole, screenshot, login, credentials, eventually, apiFromPage } from '../lib/browser.mjs';

let browser;
after(async () => { await browser?.close(); });

/** Waits for the case list to show at least one case; returns the rows' case ids. */
async function caseIds(page, hash = '#/cases') {
  return eventually(async () => {
    await page.goto(`${baseUrl()}/${hash}`);
    await page.getByTestId('case-table').waitFor();
    await page.waitForFunction(() => document.querySelector('[data-testid="case-rows"]')?.children.length > 0
      || !document.querySelector('[data-testid="cases-empty"]')?.hidden, null, { timeout: 15_000 });
    const ids = await page.getByTestId('case-row').evaluateAll((rows) => rows.map((r) => r.dataset.caseId));
    return ids.length ? ids : null;
  }, { timeoutMs: 120_000, intervalMs: 5000, what: 'a case in the list' });
}

test('a violation case appears and its detail shows the evidence track', async () => {
  browser = await openConsole();
  const { page } = browser;
  const { user, password } = credentials('officer');
  await login(page, user, password);
  const ids = await caseIds(page);
  await screenshot(page, 'e2e-cases');
  // The first case raised by a violation (it has violations, hence a track).
  let chosen = null;
  for (const id of ids) {
    const detail = await apiFromPage(page, `/cases/${encodeURIComponent(id)}`);
    if (detail.vehicle_id && Array.isArray(detail.violations) && detail.violations.length) { chosen = detail; break; }
  }
  assert.ok(chosen, 'a case opened from a violation');
  await page.goto(`${baseUrl()}/#/cases/${encodeURIComponent(chosen.id)}`);
  await page.getByTestId('case-detail').waitFor();
  assert.equal(await page.getByTestId('case-number').textContent(), chosen.number || chosen.id);
  assert.equal(await page.getByTestId('violation-row').count(), chosen.violation_details.length);
  assert.equal(await page.getByTestId('audit-row').count(), chosen.events.length);
  const points = await eventually(async () => Number(await page.getByTestId('evidence-track').getAttribute('data-points')) || null,
    { timeoutMs: 20_000, what: 'the evidence track' });
  assert.ok(points >= 2, `evidence track has ${points} points`);
  assert.equal(await page.locator('path.evidence-track').count(), 1);
  await screenshot(page, 'e2e-case-detail');
});

test('a dispatcher files a case through the console', async () => {
  // Filing (立案) is the command centre's step in the workflow: log in as the dispatcher.
  const { page } = browser;
  const { user, password } = credentials('dispatcher');
  await login(page, user, password);
  const ids = await caseIds(page, '#/cases?status=intake');
  let filedId = null;
  for (const id of ids) {
    await page.goto(`${baseUrl()}/#/cases/${encodeURIComponent(id)}`);
    await page.getByTestId('case-detail').waitFor();
    const button = page.getByTestId('transition-filed');
    if (!(await button.count())) continue;
    const eventsBefore = await page.getByTestId('audit-row').count();
    await button.click();
    await page.getByTestId('transition-form').waitFor();
    await page.getByTestId('transition-note').fill('事实清楚，证据确凿，予以立案。');
    for (const field of await page.locator('[data-testid="transition-form"] [data-testid^="field-"]').all()) {
      const name = (await field.getAttribute('data-testid')).slice('field-'.length);
      const tag = await field.evaluate((el) => el.tagName.toLowerCase());
      if (tag === 'select') await field.selectOption({ index: 0 });
      else if (name === 'penalty_yuan') await field.fill('5000');
      else if (name !== 'no_penalty') await field.fill('《柳州市城市建筑垃圾管理规定》');
    }
    await page.getByTestId('transition-submit').click();
    await page.waitForFunction(() => document.querySelector('[data-testid="case-status"]')?.dataset.status === 'filed', null, { timeout: 15_000 });
    await eventually(async () => (await page.getByTestId('audit-row').count()) > eventsBefore, { timeoutMs: 10_000, what: 'the filing in the audit trail' });
    filedId = id;
    break;
  }
  assert.ok(filedId, 'some case could be filed');
  const detail = await apiFromPage(page, `/cases/${encodeURIComponent(filedId)}`);
  assert.equal(detail.status, 'filed');
  await screenshot(page, 'e2e-case-filed');
  assert.deepEqual(browser.problems, []);
});
