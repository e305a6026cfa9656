// Statistics: violations by kind, day, company and district; cases by status; the hot-spot map.

import { api, listAll } from '../api.js';
import { MapView, consoleConfig, label } from '../basemap.js';
import { barChart, timeChart } from '../charts.js';
import { h, mount } from '../dom.js';
import { t, enumLabel } from '../i18n.js';
import { dateInputToIso, shanghaiDate } from '../time.js';

const L = window.L;
const METRES_PER_DEGREE_LAT = 111_320;

/** Colour ramp for hot-spot cells, by share of the hottest cell. */
function heat(share) {
  const stops = ['#fff3b0', '#ffb347', '#ff6f3c', '#d7263d', '#7b0828'];
  return stops[Math.min(stops.length - 1, Math.floor(share * stops.length))];
}

export async function render(container, { params }) {
  const fromInput = h('input', { type: 'date', value: params.get('from') || shanghaiDate(29), testid: 'stats-from' });
  const toInput = h('input', { type: 'date', value: params.get('to') || shanghaiDate(0), testid: 'stats-to' });
  const cellInput = h('input', { type: 'number', min: 50, max: 5000, step: 50, value: params.get('cell_m') || '500', testid: 'stats-cell' });
  const form = h('form', { class: 'toolbar', testid: 'stats-form' },
    h('label', null, t('period_from'), fromInput), h('label', null, t('period_to'), toInput),
    h('label', null, t('cell_m'), cellInput), h('button', { type: 'submit', class: 'primary' }, t('search')));
  const byKind = h('div', { testid: 'stats-by-kind' });
  const byDay = h('div', { testid: 'stats-by-day' });
  const byCompany = h('div', { testid: 'stats-by-company' });
  const byDistrict = h('div', { testid: 'stats-by-district' });
  const casesBox = h('div', { testid: 'stats-cases' });
  const mapEl = h('div', { class: 'map-canvas', testid: 'hotspot-map' });
  mount(container, h('div', { class: 'stack' }, h('h1', null, t('stats_title')), form,
    h('div', { class: 'cards' },
      h('section', { class: 'card' }, h('h2', null, t('by_kind')), byKind),
      h('section', { class: 'card' }, h('h2', null, t('cases_by_status')), casesBox),
      h('section', { class: 'card wide' }, h('h2', null, t('by_day')), byDay),
      h('section', { class: 'card' }, h('h2', null, t('by_company')), byCompany),
      h('section', { class: 'card' }, h('h2', null, t('by_district')), byDistrict)),
    h('h2', null, t('hotspots')), mapEl));

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    window.location.hash = `#/stats?${new URLSearchParams({ from: fromInput.value, to: toInput.value, cell_m: cellInput.value })}`;
  });

  const from = dateInputToIso(fromInput.value);
  const to = dateInputToIso(toInput.value, true);
  const failed = (error) => h('p', { class: 'error' }, `${t('error')}: ${error.message}`);
  const rows = (answer, labelOf) => (answer.items || []).map((r) => ({ key: r.key, label: labelOf(r.key), value: Number(r.count) }));

  api.get('/stats/violations', { group_by: 'kind', from, to })
    .then((a) => mount(byKind, barChart(rows(a, (k) => enumLabel('violation_kind', k)), { testid: 'chart-by-kind' })))
    .catch((e) => mount(byKind, failed(e)));
  api.get('/stats/violations', { group_by: 'day', from, to })
    .then((a) => mount(byDay, timeChart((a.items || []).map((r) => ({ date: String(r.key), value: Number(r.count) })).sort((x, y) => x.date.localeCompare(y.date)),
      null, { testid: 'chart-by-day', barLabel: t('violations_count') })))
    .catch((e) => mount(byDay, failed(e)));
  const companyNames = listAll('/companies').then((items) => new Map(items.map((c) => [c.id, c.name]))).catch(() => new Map());
  Promise.all([api.get('/stats/violations', { group_by: 'company', from, to }), companyNames])
    .then(([a, names]) => mount(byCompany, barChart(rows(a, (k) => names.get(k) || k), { testid: 'chart-by-company' })))
    .catch((e) => mount(byCompany, failed(e)));
  api.get('/stats/violations', { group_by: 'district', from, to })
    .then((a) => mount(byDistrict, barChart(rows(a, (k) => k), { testid: 'chart-by-district' })))
    .catch((e) => mount(byDistrict, failed(e)));
  api.get('/stats/cases', { group_by: 'status', from, to })
    .then((a) => mount(casesBox, barChart(rows(a, (k) => enumLabel('case_status', k)), { testid: 'chart-cases-by-status' }),
      Number.isFinite(a.mean_hours_to_close) ? h('p', { testid: 'mean-hours-to-close' }, `${t('mean_hours_to_close')}: ${a.mean_hours_to_close.toFixed(1)}`) : null))
    .catch((e) => mount(casesBox, failed(e)));

  const config = await consoleConfig();
  if (!mapEl.isConnected) return undefined;
  const view = new MapView(mapEl, config);
  view.drawFences().catch((error) => console.warn(error));
  const cellM = Math.max(50, Number(cellInput.value) || 500);
  const renderer = L.canvas({ padding: 0.3 });
  api.get('/stats/hotspots', { cell_m: cellM, from, to }).then((answer) => {
    if (!view.map) return;
    const cells = (answer.cells || []).filter((c) => Number.isFinite(c.lat) && Number.isFinite(c.lon) && c.count > 0);
    const max = Math.max(1, ...cells.map((c) => c.count));
    const group = L.layerGroup();
    const corners = [];
    for (const c of cells) {
      const dLat = cellM / 2 / METRES_PER_DEGREE_LAT;
      const dLon = dLat / Math.cos((c.lat * Math.PI) / 180);
      const sw = view.toDisplay(c.lat - dLat, c.lon - dLon);
      const ne = view.toDisplay(c.lat + dLat, c.lon + dLon);
      corners.push(sw, ne);
      L.rectangle([sw, ne], { renderer, weight: 0.5, color: '#7b0828', fillColor: heat(c.count / max), fillOpacity: 0.75 })
        .bindTooltip(label(`${t('count')}: ${c.count}`), { sticky: true })
        .addTo(group);
    }
    group.addTo(view.map);
    mapEl.dataset.cells = String(cells.length);
    view.fit(corners);
  }).catch((error) => { mapEl.dataset.error = error.message; console.warn('hotspots', error); });

  return () => view.destroy();
}
