// Live map: every truck from the live stream as one canvas marker, coloured by state, over the
// fences; filters by company and state; details of a clicked truck; the violation feed.

import { api, listAll } from '../api.js';
import { MapView, consoleConfig } from '../basemap.js';
import { h, mount } from '../dom.js';
import { t, enumLabel, enumValues } from '../i18n.js';
import { LiveSocket } from '../live-socket.js';
import { formatTime } from '../time.js';
import { TruckLayer, STATE_COLORS } from '../trucks.js';

const FEED_LIMIT = 200;

function fmtBool(value, yes, no) {
  if (value === true) return yes;
  if (value === false) return no;
  return t('unknown');
}

function fmtNumber(value, digits = 0) {
  return Number.isFinite(value) ? value.toFixed(digits) : '–';
}

export async function render(container, { user }) {
  const mapEl = h('div', { class: 'map-canvas', testid: 'live-map' });
  const count = h('strong', { testid: 'marker-count', dataset: { count: 0, total: 0 } }, '0');
  const status = h('span', { class: 'live-status', testid: 'live-status', dataset: { state: 'connecting' } }, t('live_connecting'));
  const companySelect = h('select', { testid: 'company-filter' }, h('option', { value: '' }, t('all')));
  const stateBoxes = enumValues('vehicle_state').map((state) => {
    const box = h('input', { type: 'checkbox', checked: true, value: state, testid: `state-filter-${state}` });
    return { state, box, label: h('label', { class: 'state-toggle' }, box, h('span', { class: 'swatch', style: { background: STATE_COLORS[state] } }), enumLabel('vehicle_state', state)) };
  });
  const info = h('div', { class: 'truck-info', testid: 'truck-info', hidden: true });
  const feed = h('ol', { class: 'feed', testid: 'violation-feed' });
  const feedEmpty = h('p', { class: 'muted', testid: 'violation-feed-empty' }, t('no_violations'));
  const sidebar = h('aside', { class: 'side' },
    h('div', { class: 'row' }, status),
    h('div', { class: 'row' }, t('trucks_shown'), ': ', count),
    user.role === 'company' ? null : h('label', { class: 'field' }, t('filter_company'), companySelect),
    h('fieldset', { class: 'states' }, h('legend', null, t('filter_state')), stateBoxes.map((s) => s.label)),
    info,
    h('h3', null, t('violation_feed')),
    feedEmpty,
    feed,
  );
  mount(container, h('div', { class: 'split' }, mapEl, sidebar));

  const config = await consoleConfig();
  if (!mapEl.isConnected) return undefined; // left while loading
  const view = new MapView(mapEl, config);
  const companies = new Map();
  const violations = new Map(); // id -> { violation, item }
  let selectedId = null;

  const trucks = new TruckLayer(view, {
    onSelect: (id) => select(id),
    onCount: () => {
      const shown = trucks.shownCount();
      count.textContent = String(shown);
      count.dataset.count = String(shown);
      count.dataset.total = String(trucks.total);
      // Re-render the details only when the selected truck really moved (not on every frame).
      const live = selectedId ? trucks.get(selectedId) : null;
      if (live && live !== shownLive) renderInfo(live, null);
    },
  });
  view.drawFences({ [t('layer_trucks')]: trucks.layer }).catch((error) => console.warn(error));

  listAll('/companies').then((items) => {
    for (const company of items) {
      companies.set(company.id, company.name);
      companySelect.append(h('option', { value: company.id }, company.name || company.id));
    }
  }).catch((error) => console.warn('companies', error));

  const applyFilter = () => {
    const states = new Set(stateBoxes.filter((s) => s.box.checked).map((s) => s.state));
    trucks.setFilter({ companyId: companySelect.value, states: states.size === stateBoxes.length ? null : states });
  };
  companySelect.addEventListener('change', applyFilter);
  for (const s of stateBoxes) s.box.addEventListener('change', applyFilter);

  let detail = null; // GET /vehicles/{id} of the selected truck
  let shownLive = null; // the live position the details show
  function renderInfo(live, fetched) {
    if (fetched) detail = fetched;
    shownLive = live;
    if (!live && !detail) { info.hidden = true; return; }
    const latest = live || (detail && detail.latest) || {};
    const row = (label, value, testid) => h('tr', null, h('th', null, label), h('td', { testid }, value));
    const plate = (live && live.plate) || (detail && detail.plate) || selectedId;
    const companyName = (detail && detail.company_name) || companies.get((live && live.company_id) || (detail && detail.company_id)) || (live && live.company_id) || '';
    info.dataset.vehicleId = selectedId;
    info.hidden = false;
    mount(info,
      h('div', { class: 'info-head' },
        h('strong', { testid: 'truck-plate' }, plate),
        h('span', { class: `badge state-${latest.state || 'unknown'}` }, enumLabel('vehicle_state', (live && live.state) || (detail && detail.state) || 'unknown')),
        h('button', { type: 'button', class: 'link', onclick: () => select(null) }, '×')),
      h('table', { class: 'kv' },
        row(t('company'), companyName, 'truck-company'),
        row(t('speed'), `${fmtNumber(latest.speed_kmh, 1)} ${t('kmh')}`, 'truck-speed'),
        row(t('load'), `${enumLabel('load', latest.load || 'unknown')}${detail && detail.latest && Number.isFinite(detail.latest.weight_kg) ? ` · ${fmtNumber(detail.latest.weight_kg)} kg` : ''}`, 'truck-load'),
        row(t('lid'), fmtBool(latest.lid_open, t('lid_open'), t('lid_closed'))),
        row(t('lift'), fmtBool(latest.lift_up, t('lift_up'), t('lift_down'))),
        row(t('permit'), (detail && detail.permit_id) || t('none'), 'truck-permit'),
        row(t('last_fix'), formatTime(latest.time), 'truck-last-fix'),
      ),
      h('p', { class: 'links' },
        h('a', { href: `#/replay?vehicle=${encodeURIComponent(selectedId)}` }, t('replay_this')), ' · ',
        h('a', { href: `#/cases?vehicle_id=${encodeURIComponent(selectedId)}` }, t('cases_of_vehicle'))),
    );
  }

  function select(id) {
    selectedId = id;
    detail = null;
    trucks.select(id);
    if (!id) { info.hidden = true; return; }
    renderInfo(trucks.get(id), null);
    api.get(`/vehicles/${encodeURIComponent(id)}`).then((vehicle) => {
      if (selectedId === id) renderInfo(trucks.get(id), vehicle);
    }).catch((error) => console.warn('vehicle', error));
  }

  function addViolation(v, atTop) {
    if (!v || typeof v.id !== 'string') return;
    const existing = violations.get(v.id);
    const plate = (v.vehicle_id && trucks.get(v.vehicle_id)?.plate) || v.vehicle_id || v.phone || '';
    const item = h('li', { class: `severity-${v.severity || 1} status-${v.status || 'open'}`, testid: 'violation-item', dataset: { violationId: v.id } },
      h('div', null, h('strong', null, enumLabel('violation_kind', v.kind)), ' ', h('span', { class: 'plate' }, plate)),
      h('div', { class: 'muted' }, formatTime(v.started_at), v.status === 'closed' ? ` – ${formatTime(v.ended_at)}` : ` · ${t('open')}`),
    );
    item.addEventListener('click', () => {
      if (Number.isFinite(v.lat) && Number.isFinite(v.lon)) view.map.setView(view.toDisplay(v.lat, v.lon), Math.max(view.map.getZoom(), 15));
      if (v.vehicle_id) select(v.vehicle_id);
    });
    if (existing) existing.item.replaceWith(item);
    else if (atTop) feed.prepend(item);
    else feed.append(item);
    violations.set(v.id, { violation: v, item });
    while (feed.children.length > FEED_LIMIT) {
      const last = feed.lastElementChild;
      violations.delete(last.dataset.violationId);
      last.remove();
    }
    feedEmpty.hidden = feed.children.length > 0;
  }

  const socket = new LiveSocket({
    onSnapshot: ({ positions, violations: list }) => {
      trucks.update(positions);
      trucks.flush(); // now, so that the feed below can show plates
      const sorted = [...list].sort((a, b) => Date.parse(b.started_at) - Date.parse(a.started_at));
      for (const v of sorted) addViolation(v, false);
    },
    onPositions: (positions) => trucks.update(positions),
    onViolation: (v) => addViolation(v, true),
    onStatus: (state, delayMs) => {
      status.dataset.state = state;
      status.textContent = state === 'connected' ? t('live_connected')
        : state === 'reconnecting' ? t('live_reconnecting', { s: Math.ceil((delayMs || 0) / 1000) })
          : t('live_connecting');
    },
  });
  socket.start();

  return () => {
    socket.stop();
    trucks.destroy();
    view.destroy();
  };
}
