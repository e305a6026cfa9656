// The console's own behaviour in a real browser, against the console's static files alone
// (tests/browser/main.rs serves haulwatch::web::router() and sets HAULWATCH_URL). Nothing here
// needs the API: what needs it is in e2e/, run against `haulwatch demo`.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { baseUrl, openConsole, screenshot, repoRoot } from './lib/browser.mjs';

const assets = path.join(repoRoot, 'src', 'web', 'assets');
let browser;

before(async () => {
  // A browser far from Beijing: every time shown must still be Beijing time.
  browser = await openConsole({ timezoneId: 'America/New_York' });
});
after(async () => { await browser?.close(); });

test('login page renders in Chinese by default, offline, without errors', async () => {
  const { page, problems } = browser;
  await page.goto(`${baseUrl()}/`);
  await page.getByTestId('login-form').waitFor();
  assert.equal(await page.evaluate(() => window.location.hash), '#/login');
  assert.equal(await page.getByTestId('login-submit').textContent(), '登录');
  assert.match(await page.locator('h1').textContent(), /渣土车监管平台/);
  assert.equal(await page.evaluate(() => document.documentElement.lang), 'zh-CN');
  assert.equal(await page.evaluate(() => typeof window.L?.map), 'function', 'Leaflet loaded from the binary');
  await screenshot(page, 'console-login-zh');
  assert.deepEqual(problems, []);
});

test('a deep link without a session goes to login and remembers where it was going', async () => {
  const { page } = browser;
  await page.evaluate(() => localStorage.clear());
  await page.goto(`${baseUrl()}/#/cases?status=filed`);
  await page.getByTestId('login-form').waitFor();
  const hash = await page.evaluate(() => window.location.hash);
  assert.equal(hash, `#/login?next=${encodeURIComponent('#/cases?status=filed')}`);
});

test('the language toggle switches to English and is remembered across reloads', async () => {
  const { page, problems } = browser;
  await page.goto(`${baseUrl()}/#/login`);
  await page.getByTestId('lang-toggle').click();
  await page.waitForFunction(() => document.querySelector('[data-testid="login-submit"]')?.textContent === 'Log in');
  assert.equal(await page.evaluate(() => document.documentElement.lang), 'en');
  await page.reload();
  await page.getByTestId('login-form').waitFor();
  assert.equal(await page.getByTestId('login-submit').textContent(), 'Log in');
  assert.equal(await page.getByTestId('lang-toggle').textContent(), '中文');
  await screenshot(page, 'console-login-en');
  await page.getByTestId('lang-toggle').click();
  await page.waitForFunction(() => document.querySelector('[data-testid="login-submit"]')?.textContent === '登录');
  assert.deepEqual(problems, []);
});

test('a failed login shows the error and keeps the user on the login page', async () => {
  const { page } = browser;
  await page.goto(`${baseUrl()}/#/login`);
  await page.getByTestId('login-username').fill('dispatcher');
  await page.getByTestId('login-password').fill('wrong');
  const answer = page.waitForResponse((r) => r.url().endsWith('/api/v1/auth/login'));
  await page.getByTestId('login-submit').click();
  const response = await answer;
  assert.equal(response.request().method(), 'POST');
  assert.deepEqual(JSON.parse(response.request().postData()), { username: 'dispatcher', password: 'wrong' });
  const error = page.getByTestId('login-error');
  await error.waitFor({ state: 'visible' });
  assert.match(await error.textContent(), /登录失败|用户名或密码错误/);
  assert.equal(await page.evaluate(() => localStorage.getItem('haulwatch.session')), null);
  assert.equal(await page.evaluate(() => window.location.hash), '#/login');
  await screenshot(page, 'console-login-error');
  // The browser logs the failed request itself; nothing else may have gone wrong.
  const unexpected = browser.problems.filter((p) => !/status of (401|404|405)/.test(p));
  assert.deepEqual(unexpected, []);
  browser.problems.length = 0;
});

test('times are shown in Beijing time whatever the browser zone', async () => {
  const { page } = browser;
  await page.goto(`${baseUrl()}/#/login`);
  assert.equal(await page.evaluate(() => Intl.DateTimeFormat().resolvedOptions().timeZone), 'America/New_York');
  const result = await page.evaluate(async () => {
    const time = await import('/assets/js/time.js');
    return {
      utcMidnight: time.formatTime('2024-01-01T00:00:00Z'),
      summer: time.formatTime('2024-07-01T15:30:05Z'),
      date: time.formatDate('2024-03-10T17:00:00Z'),
      input: time.localInputToIso('2024-05-01T08:00'),
      back: time.isoToLocalInput('2024-05-01T00:00:00Z'),
      day: time.dateInputToIso('2024-05-01', true),
      bad: time.localInputToIso('yesterday'),
      empty: time.formatTime(null),
    };
  });
  assert.deepEqual(result, {
    utcMidnight: '2024-01-01 08:00:00',
    summer: '2024-07-01 23:30:05',
    date: '2024-03-11',
    input: '2024-05-01T08:00:00+08:00',
    back: '2024-05-01T08:00',
    day: '2024-05-01T23:59:59+08:00',
    bad: null,
    empty: '',
  });
  // The top bar's clock shows Beijing time too.
  const clock = await page.getByTestId('clock').textContent();
  const beijingNow = new Date(Date.now() + 8 * 3600 * 1000).toISOString().slice(0, 16).replace('T', ' ');
  assert.ok(clock.startsWith(beijingNow.slice(0, 13)), `${clock} vs ${beijingNow}`);
});

test('the GCJ-02 port matches the Rust coordtransform crate', async () => {
  const file = process.env.HAULWATCH_GCJ_VECTORS;
  assert.ok(file, 'HAULWATCH_GCJ_VECTORS names the vectors written by tests/browser/main.rs');
  const vectors = JSON.parse(await readFile(file, 'utf8'));
  assert.ok(vectors.length >= 50);
  const { page } = browser;
  const worst = await page.evaluate(async (list) => {
    const coords = await import('/assets/js/coords.js');
    let forward = 0;
    let inverse = 0;
    for (const v of list) {
      const [lat, lon] = coords.wgs84ToGcj02(v.lat, v.lon);
      forward = Math.max(forward, Math.abs(lat - v.gcj_lat), Math.abs(lon - v.gcj_lon));
      const [bLat, bLon] = coords.gcj02ToWgs84(lat, lon);
      inverse = Math.max(inverse, Math.abs(bLat - v.lat), Math.abs(bLon - v.lon));
    }
    return { forward, inverse };
  }, vectors);
  assert.ok(worst.forward < 1e-9, `forward differs by ${worst.forward} degrees`);
  assert.ok(worst.inverse < 1e-8, `inverse round trip off by ${worst.inverse} degrees`);
});

test('the map works with no tiles and keeps one canvas marker per truck through updates', async () => {
  const { page, problems } = browser;
  await page.goto(`${baseUrl()}/#/login`);
  const result = await page.evaluate(async () => {
    const { MapView, DEFAULT_CONFIG, metresPerPixel } = await import('/assets/js/basemap.js');
    const { TruckLayer } = await import('/assets/js/trucks.js');
    const el = document.createElement('div');
    el.style.cssText = 'position:fixed;left:0;top:0;width:800px;height:600px';
    document.body.append(el);
    const view = new MapView(el, DEFAULT_CONFIG);
    let counted = 0;
    const selected = [];
    const layer = new TruckLayer(view, { onCount: () => { counted += 1; }, onSelect: (id) => selected.push(id) });
    const make = (i, shift, state) => ({
      vehicle_id: `V${i}`, plate: `桂B${String(i).padStart(5, '0')}`, company_id: `C${i % 40}`,
      time: new Date(Date.UTC(2024, 0, 1, 0, 0, shift)).toISOString(),
      lat: 24.30 + (i % 200) * 0.0002 + shift * 1e-5, lon: 109.38 + Math.floor(i / 200) * 0.0005,
      speed_kmh: 30, heading: 90, load: 'full', lift_up: false, lid_open: false, state,
    });
    const n = 20000;
    const t0 = performance.now();
    layer.update(Array.from({ length: n }, (_, i) => make(i, 0, 'moving')));
    layer.flush();
    layer.layer.draw();
    const firstMs = performance.now() - t0;
    const canvases = el.querySelectorAll('canvas[data-testid="truck-canvas"]').length;
    const t1 = performance.now();
    // Every truck moves (and a quarter change state): still one marker each, moved in place.
    layer.update(Array.from({ length: n }, (_, i) => make(i, 10, i % 4 === 0 ? 'violation' : 'moving')));
    layer.flush();
    layer.layer.draw();
    const secondMs = performance.now() - t1;
    // A late (older) position must not move a truck back.
    layer.update([make(7, 5, 'stopped')]);
    layer.flush();
    const seventh = layer.get('V7');
    // Something is drawn where truck V0 is, and a click there selects it.
    view.map.setView(view.map.containerPointToLatLng(layer.containerPoint('V0')), 17, { animate: false });
    layer.layer.draw();
    const at = layer.containerPoint('V0');
    const canvas = el.querySelector('canvas[data-testid="truck-canvas"]');
    const box = canvas.getBoundingClientRect();
    const ratio = window.devicePixelRatio || 1;
    const elBox = el.getBoundingClientRect();
    const pixel = canvas.getContext('2d').getImageData(Math.round((elBox.left + at.x - box.left) * ratio), Math.round((elBox.top + at.y - box.top) * ratio), 1, 1).data;
    const hit = layer.hit(at);
    const miss = layer.hit({ x: at.x + 40, y: at.y + 40 });
    view.map.fire('click', { containerPoint: at, latlng: view.map.containerPointToLatLng(at) });
    layer.setFilter({ states: new Set(['violation']) });
    const violationsShown = layer.shownCount();
    layer.setFilter({ states: null, companyId: 'C3' });
    const companyShown = layer.shownCount();
    const result = {
      total: layer.total, canvases, violationsShown, companyShown, selected,
      seventhTime: seventh.time, counted: counted > 0, pixel: [...pixel], hit, miss,
      tiles: el.querySelectorAll('.leaflet-tile').length, noTilesClass: el.classList.contains('no-tiles'),
      corridorPx: 2 * 100 / metresPerPixel(24.3, 14), firstMs, secondMs,
    };
    layer.destroy();
    view.destroy();
    el.remove();
    return result;
  });
  console.log(`20,000 trucks: first draw ${result.firstMs.toFixed(0)} ms, all moved and redrawn ${result.secondMs.toFixed(0)} ms (informational)`);
  assert.equal(result.total, 20000);
  assert.ok(result.canvases >= 1, 'trucks are drawn on canvas');
  assert.equal(result.violationsShown, 5000);
  assert.equal(result.companyShown, 500);
  assert.equal(result.hit, 'V0');
  assert.equal(result.miss, null);
  assert.deepEqual(result.selected, ['V0']);
  // V0 is a violation after the update: its pixel is the violation red (#d50000), opaque.
  assert.deepEqual(result.pixel, [0xd5, 0x00, 0x00, 255]);
  assert.equal(result.seventhTime, '2024-01-01T00:00:10.000Z');
  assert.ok(result.counted);
  assert.equal(result.tiles, 0);
  assert.ok(result.noTilesClass);
  // 100 m either side at zoom 14 near Liuzhou: 200 m / (about 8.7 m per pixel).
  assert.ok(Math.abs(result.corridorPx - 200 / (40075016.686 * Math.cos(24.3 * Math.PI / 180) / 2 ** 22)) < 1e-9);
  assert.deepEqual(problems.filter((p) => !p.includes('console-config')), []);
});

test('with GCJ-02 tiles configured, positions are shifted for display only and tiles load from the template', async () => {
  const { page } = browser;
  await page.goto(`${baseUrl()}/#/login`);
  const result = await page.evaluate(async () => {
    const { MapView } = await import('/assets/js/basemap.js');
    const { wgs84ToGcj02 } = await import('/assets/js/coords.js');
    const el = document.createElement('div');
    el.style.cssText = 'position:fixed;left:0;top:0;width:400px;height:300px';
    document.body.append(el);
    // A same-origin template (the files do not exist; only the requested URLs matter here).
    const view = new MapView(el, {
      tiles: { url: '/tiles-test/{z}/{x}/{y}.png', coord_sys: 'gcj02', attribution: 'test tiles' },
      center: [24.324, 109.407], zoom: 13,
    });
    const shown = view.toDisplay(24.324, 109.407);
    const expected = wgs84ToGcj02(24.324, 109.407);
    const back = view.fromDisplay(shown);
    const tiles = [...el.querySelectorAll('img.leaflet-tile')].map((img) => img.getAttribute('src'));
    const attribution = el.querySelector('.leaflet-control-attribution')?.textContent || '';
    const coordSys = el.dataset.coordSys;
    view.destroy();
    el.remove();
    return { shown: [shown.lat, shown.lng], expected, back, tiles, attribution, coordSys };
  });
  assert.equal(result.coordSys, 'gcj02');
  assert.deepEqual(result.shown, result.expected);
  // GCJ-02 moves Liuzhou by a few hundred metres; the inverse brings it back.
  assert.ok(Math.abs(result.shown[1] - 109.407) > 0.003);
  assert.ok(Math.abs(result.back[0] - 24.324) < 1e-8 && Math.abs(result.back[1] - 109.407) < 1e-8);
  assert.ok(result.tiles.length > 0 && result.tiles.every((src) => /^\/tiles-test\/13\/\d+\/\d+\.png$/.test(src)), result.tiles.join(' '));
  assert.match(result.attribution, /test tiles/);
  // The missing test tiles were logged as failed loads; nothing else may have gone wrong.
  assert.deepEqual(browser.problems.filter((p) => !/status of 404/.test(p)), []);
  browser.problems.length = 0;
});

test('the live socket backs off exponentially with jitter, capped at 30 s', async () => {
  const { page } = browser;
  const delays = await page.evaluate(async () => {
    const { backoffDelay } = await import('/assets/js/live-socket.js');
    return {
      low: [0, 1, 2, 3, 10].map((a) => backoffDelay(a, () => 0)),
      high: [0, 1, 2, 3, 10].map((a) => backoffDelay(a, () => 1)),
    };
  });
  assert.deepEqual(delays.low, [500, 1000, 2000, 4000, 15000]);
  assert.deepEqual(delays.high, [1000, 2000, 4000, 8000, 30000]);
});

test('every label the console uses exists in both languages', async () => {
  const { page } = browser;
  const dictionaries = await page.evaluate(async () => {
    const { dictionaries: d } = await import('/assets/js/i18n.js');
    return { zh: Object.keys(d.zh), en: Object.keys(d.en) };
  });
  assert.deepEqual([...dictionaries.en].sort(), [...dictionaries.zh].sort());
  const used = new Set();
  const walk = async (dir) => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) await walk(full);
      else if (entry.name.endsWith('.js')) {
        for (const m of (await readFile(full, 'utf8')).matchAll(/\bt\('([a-z0-9_]+)'/g)) used.add(m[1]);
      }
    }
  };
  await walk(path.join(assets, 'js'));
  assert.ok(used.size > 50, `only ${used.size} labels found`);
  const missing = [...used].filter((key) => !dictionaries.zh.includes(key));
  assert.deepEqual(missing, []);
});
