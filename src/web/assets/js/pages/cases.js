// Cases: the list with filters and overdue markers, and a form for a patrol or citizen case.

import { api, listAll, ApiError } from '../api.js';
import { MapView, consoleConfig } from '../basemap.js';
import { h, mount, select } from '../dom.js';
import { t, enumLabel, enumValues } from '../i18n.js';
import { formatTime } from '../time.js';

const L = window.L;
const CREATORS = ['admin', 'dispatcher', 'officer'];

/** The nearest deadline that is not paused, for the list. */
function nextDeadline(deadlines) {
  const open = (Array.isArray(deadlines) ? deadlines : []).filter((d) => d && !d.paused && d.due);
  open.sort((a, b) => Date.parse(a.due) - Date.parse(b.due));
  return open[0] || null;
}

export async function render(container, { params, user }) {
  const filters = {
    kind: select({ testid: 'filter-kind' }, [['', t('all')], ...enumValues('violation_kind').map((k) => [k, enumLabel('violation_kind', k)])]),
    status: select({ testid: 'filter-status' }, [['', t('all')], ...enumValues('case_status').map((s) => [s, enumLabel('case_status', s)])]),
    company_id: select({ testid: 'filter-company' }, [['', t('all')]]),
    vehicle_id: h('input', { testid: 'filter-vehicle', placeholder: t('vehicle'), size: 10 }),
    overdue: h('input', { type: 'checkbox', testid: 'filter-overdue' }),
  };
  for (const key of ['kind', 'status', 'vehicle_id']) filters[key].value = params.get(key) || '';
  filters.overdue.checked = params.get('overdue') === 'true';
  const companyParam = params.get('company_id') || '';
  if (companyParam) filters.company_id.append(h('option', { value: companyParam }, companyParam));
  filters.company_id.value = companyParam;

  const tbody = h('tbody', { testid: 'case-rows' });
  const empty = h('p', { class: 'muted', testid: 'cases-empty', hidden: true }, t('no_cases'));
  const more = h('button', { type: 'button', hidden: true, testid: 'cases-more' }, t('more'));
  const message = h('p', { class: 'error', hidden: true, testid: 'cases-error' });
  const form = h('form', { class: 'toolbar', testid: 'case-filters' },
    h('label', null, t('case_kind'), filters.kind),
    h('label', null, t('case_status'), filters.status),
    user.role === 'company' ? null : h('label', null, t('company'), filters.company_id),
    h('label', null, t('vehicle'), filters.vehicle_id),
    h('label', { class: 'check' }, filters.overdue, t('overdue_only')),
    h('button', { type: 'submit', class: 'primary', testid: 'cases-search' }, t('search')),
    CREATORS.includes(user.role) ? h('button', { type: 'button', testid: 'new-case', onclick: () => openNewCase() }, t('new_case')) : null,
  );
  const newCaseHost = h('div');
  mount(container, h('div', { class: 'stack' },
    h('h1', null, t('cases_title')), form, newCaseHost, message,
    h('table', { class: 'grid', testid: 'case-table' },
      h('thead', null, h('tr', null, [t('case_number'), t('case_kind'), t('case_status'), t('case_source'), t('plate'), t('company'), t('opened_at'), t('deadlines')].map((c) => h('th', null, c)))),
      tbody),
    empty, more));

  const companyNames = new Map();
  const companiesLoaded = listAll('/companies').then((items) => {
    for (const c of items) {
      companyNames.set(c.id, c.name);
      if (c.id !== companyParam) filters.company_id.append(h('option', { value: c.id }, c.name || c.id));
    }
    filters.company_id.value = companyParam;
  }).catch((error) => console.warn('companies', error));

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const query = new URLSearchParams();
    for (const key of ['kind', 'status', 'company_id', 'vehicle_id']) if (filters[key].value.trim()) query.set(key, filters[key].value.trim());
    if (filters.overdue.checked) query.set('overdue', 'true');
    window.location.hash = `#/cases${query.toString() ? `?${query}` : ''}`;
  });

  const query = {};
  for (const key of ['kind', 'status', 'company_id', 'vehicle_id']) if (params.get(key)) query[key] = params.get(key);
  if (params.get('overdue') === 'true') query.overdue = 'true';
  let cursor = null;

  function row(c) {
    const deadline = nextDeadline(c.deadlines);
    const overdue = c.overdue === true || (Array.isArray(c.deadlines) && c.deadlines.some((d) => d && d.overdue));
    const dueSoon = !overdue && Array.isArray(c.deadlines) && c.deadlines.some((d) => d && d.due_soon);
    const href = `#/cases/${encodeURIComponent(c.id)}`;
    const tr = h('tr', { testid: 'case-row', class: overdue ? 'overdue' : dueSoon ? 'due-soon' : '', dataset: { caseId: c.id, status: c.status || '', overdue: overdue ? 'true' : 'false' } },
      h('td', null, h('a', { href, testid: 'case-link' }, c.number || c.id)),
      h('td', null, enumLabel('violation_kind', c.kind)),
      h('td', null, h('span', { class: `badge status-${c.status}` }, enumLabel('case_status', c.status))),
      h('td', null, enumLabel('case_source', c.source)),
      h('td', null, c.plate || c.vehicle_id || ''),
      h('td', null, companyNames.get(c.company_id) || c.company_id || ''),
      h('td', null, formatTime(c.opened_at)),
      h('td', null,
        overdue ? h('span', { class: 'badge overdue', testid: 'overdue-marker' }, t('overdue')) : null,
        dueSoon ? h('span', { class: 'badge due-soon', testid: 'due-soon-marker' }, t('due_soon')) : null,
        deadline ? ` ${enumLabel('deadline', deadline.name)} ${formatTime(deadline.due)}` : ''),
    );
    tr.addEventListener('click', (event) => { if (event.target.tagName !== 'A') window.location.hash = href; });
    return tr;
  }

  async function loadPage() {
    more.disabled = true;
    try {
      const page = await api.get('/cases', { ...query, cursor, limit: 100 });
      for (const c of page.items || []) tbody.append(row(c));
      cursor = page.next || null;
      message.hidden = true;
    } catch (error) {
      message.textContent = `${t('error')}: ${error.message}`;
      message.hidden = false;
      cursor = null;
    }
    more.hidden = !cursor;
    more.disabled = false;
    empty.hidden = tbody.children.length > 0 || !message.hidden;
  }
  more.addEventListener('click', loadPage);

  let newCaseView = null;
  async function openNewCase() {
    if (newCaseHost.firstChild) return;
    const source = select({ name: 'source', testid: 'new-case-source' }, [['patrol', enumLabel('case_source', 'patrol')], ['citizen', enumLabel('case_source', 'citizen')]]);
    const kind = select({ name: 'kind', testid: 'new-case-kind' }, enumValues('violation_kind').map((k) => [k, enumLabel('violation_kind', k)]));
    const lat = h('input', { name: 'lat', type: 'number', step: 'any', min: -90, max: 90, required: true, testid: 'new-case-lat' });
    const lon = h('input', { name: 'lon', type: 'number', step: 'any', min: -180, max: 180, required: true, testid: 'new-case-lon' });
    const vehicle = h('input', { name: 'vehicle_id', testid: 'new-case-vehicle' });
    const description = h('textarea', { name: 'description', rows: 3, required: true, testid: 'new-case-description' });
    const error = h('p', { class: 'error', hidden: true, testid: 'new-case-error' });
    const mapEl = h('div', { class: 'map-canvas small', testid: 'new-case-map' });
    const newForm = h('form', { class: 'card form-grid', testid: 'new-case-form' },
      h('h2', null, t('new_case')),
      h('label', null, t('case_source'), source), h('label', null, t('case_kind'), kind),
      h('label', null, t('lat'), lat), h('label', null, t('lon'), lon),
      h('label', null, t('vehicle'), vehicle), h('label', { class: 'wide' }, t('description'), description),
      h('p', { class: 'muted wide' }, t('pick_on_map')), mapEl, error,
      h('div', { class: 'wide' },
        h('button', { type: 'submit', class: 'primary', testid: 'new-case-submit' }, t('create')), ' ',
        h('button', { type: 'button', onclick: closeNewCase }, t('cancel'))));
    mount(newCaseHost, newForm);
    newForm.addEventListener('submit', async (event) => {
      event.preventDefault();
      error.hidden = true;
      const body = { source: source.value, kind: kind.value, lat: Number(lat.value), lon: Number(lon.value), description: description.value.trim() };
      if (vehicle.value.trim()) body.vehicle_id = vehicle.value.trim();
      try {
        const created = await api.post('/cases', body);
        const extra = created.tracking_no ? `?tracking_no=${encodeURIComponent(created.tracking_no)}` : '';
        window.location.hash = `#/cases/${encodeURIComponent(created.id)}${extra}`;
      } catch (cause) {
        error.textContent = cause instanceof ApiError && cause.field ? `${cause.field}: ${cause.message}` : `${t('error')}: ${cause.message}`;
        error.hidden = false;
      }
    });
    const config = await consoleConfig();
    if (!mapEl.isConnected) return;
    newCaseView = new MapView(mapEl, config);
    let pin = null;
    newCaseView.map.on('click', (event) => {
      const [wLat, wLon] = newCaseView.fromDisplay(event.latlng);
      lat.value = wLat.toFixed(6);
      lon.value = wLon.toFixed(6);
      if (pin) pin.setLatLng(event.latlng);
      else pin = L.circleMarker(event.latlng, { radius: 7, color: '#000', fillColor: '#ffeb3b', fillOpacity: 1, renderer: newCaseView.svg }).addTo(newCaseView.map);
    });
    newCaseView.drawFences().catch((e) => console.warn(e));
  }
  function closeNewCase() {
    if (newCaseView) newCaseView.destroy();
    newCaseView = null;
    mount(newCaseHost);
  }

  await companiesLoaded;
  await loadPage();
  return () => { if (newCaseView) newCaseView.destroy(); };
}
