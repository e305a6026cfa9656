// One case: its facts and deadlines, the evidence track on the map, the violations, the audit
// trail, the workflow actions the server allows now, evidence upload and the printable documents.

import { api, listAll, request, ApiError } from '../api.js';
import { MapView, consoleConfig } from '../basemap.js';
import { h, mount, select, downloadBlob } from '../dom.js';
import { t, lang, enumLabel, enumValues } from '../i18n.js';
import { formatTime } from '../time.js';
import { fetchTrack, drawTrack } from '../track.js';

const L = window.L;
const TRACK_MARGIN_MS = 10 * 60 * 1000;
const TRACK_MAX_MS = 24 * 3600 * 1000; // keep the request within what the API allows

/** The period the evidence track covers: the violations' span with a margin either side. */
export function evidencePeriod(caseItem) {
  const violations = Array.isArray(caseItem.violation_details) ? caseItem.violation_details : [];
  const starts = violations.map((v) => Date.parse(v.started_at)).filter(Number.isFinite);
  const ends = violations.map((v) => Date.parse(v.ended_at || v.started_at)).filter(Number.isFinite);
  let from = starts.length ? Math.min(...starts) : Date.parse(caseItem.opened_at);
  let to = ends.length ? Math.max(...ends) : from;
  if (!Number.isFinite(from)) return null;
  from -= TRACK_MARGIN_MS;
  to = Math.min(to + TRACK_MARGIN_MS, from + TRACK_MAX_MS);
  return { from: new Date(from).toISOString(), to: new Date(to).toISOString() };
}

/** Positions recorded in the violations' own evidence, when the engine put them there. */
function evidencePositions(caseItem) {
  const out = [];
  for (const v of caseItem.violation_details || []) {
    const positions = v && v.evidence && Array.isArray(v.evidence.positions) ? v.evidence.positions : [];
    for (const p of positions) {
      const ms = Date.parse(p.time);
      if (Number.isFinite(p.lat) && Number.isFinite(p.lon) && Number.isFinite(ms)) out.push({ lat: p.lat, lon: p.lon, ms, props: p });
    }
  }
  return out.sort((a, b) => a.ms - b.ms);
}

function shortHash(value) {
  return typeof value === 'string' && value.length > 12 ? `${value.slice(0, 12)}…` : value || '';
}

function fmtJson(value) {
  if (value === null || value === undefined) return '';
  if (typeof value === 'string') return value;
  try { return JSON.stringify(value); } catch { return String(value); }
}

function section(title, testid, ...children) {
  return h('section', { class: 'card', testid }, h('h2', null, title), ...children);
}

export async function render(container, { id, params, user }) {
  let view = null;
  const notice = h('p', { class: 'notice', testid: 'case-notice', hidden: true });
  const tracking = params.get('tracking_no');
  if (tracking) { notice.textContent = `${t('tracking_no')}: ${tracking}`; notice.hidden = false; }
  mount(container, h('p', { class: 'muted' }, t('loading')));

  let item;
  try {
    item = await api.get(`/cases/${encodeURIComponent(id)}`);
  } catch (error) {
    mount(container, h('p', { class: 'error', testid: 'case-error' },
      error instanceof ApiError && error.status === 404 ? t('not_found') : `${t('error')}: ${error.message}`),
    h('a', { href: '#/cases' }, t('back_to_list')));
    return undefined;
  }
  if (!container.isConnected) return undefined;

  const reload = (message) => {
    // Re-render in place (the hash is unchanged, so no hashchange fires).
    if (view) view.destroy();
    view = null;
    render(container, { id, params, user }).then((next) => { cleanupNext = next; if (message) showNotice(message); });
  };
  let cleanupNext = null;
  function showNotice(message) {
    const current = container.querySelector('[data-testid="case-notice"]');
    if (current) { current.textContent = message; current.hidden = false; }
  }

  const overdue = item.overdue === true;
  const deadlines = (Array.isArray(item.deadlines) ? item.deadlines : []).map((d) =>
    h('li', { class: d.overdue ? 'overdue' : d.due_soon ? 'due-soon' : '', testid: 'deadline' },
      `${enumLabel('deadline', d.name)}: ${formatTime(d.due)}`,
      d.paused ? ` (${t('paused')})` : '',
      d.overdue ? h('span', { class: 'badge overdue' }, t('overdue')) : null,
      d.due_soon && !d.overdue ? h('span', { class: 'badge due-soon' }, t('due_soon')) : null));

  // Map with the evidence track.
  const mapEl = h('div', { class: 'map-canvas', testid: 'case-map' });
  const trackStatus = h('span', { testid: 'evidence-track', dataset: { points: 0 } }, t('loading'));

  // Workflow actions.
  const actionHost = h('div', { testid: 'transition-host' });
  const transitions = Array.isArray(item.allowed_transitions) ? item.allowed_transitions : [];
  const transitionButtons = transitions.map((tr) =>
    h('button', { type: 'button', class: 'action', testid: `transition-${tr.to}`, dataset: { to: tr.to }, onclick: () => openTransition(tr) },
      lang() === 'zh' && tr.label ? tr.label : enumLabel('case_status', tr.to)));

  let officersCache = null;
  const officers = () => {
    if (!officersCache) officersCache = listAll('/officers').catch(() => []);
    return officersCache;
  };

  function officerSelect(testid) {
    const el = h('select', { multiple: true, size: 4, testid });
    officers().then((list) => { for (const o of list) el.append(h('option', { value: o.id }, `${o.name || ''} (${o.id})`)); });
    return el;
  }

  function openTransition(tr) {
    const needs = Array.isArray(tr.needs) ? tr.needs : [];
    const note = h('textarea', { rows: 3, required: true, testid: 'transition-note' });
    const fields = {};
    const rows = [];
    for (const need of needs) {
      if (need === 'penalty_yuan') fields[need] = h('input', { type: 'number', min: 0, step: 1, required: true, testid: `field-${need}` });
      else if (need === 'no_penalty') fields[need] = h('input', { type: 'checkbox', testid: `field-${need}` });
      else if (need === 'officers') fields[need] = officerSelect(`field-${need}`);
      else fields[need] = h('input', { required: true, testid: `field-${need}` });
      rows.push(h('label', { class: need === 'no_penalty' ? 'check' : '' }, need === 'no_penalty' ? fields[need] : null, t(need), need === 'no_penalty' ? null : fields[need]));
    }
    const error = h('p', { class: 'error', hidden: true, testid: 'transition-error' });
    const submit = h('button', { type: 'submit', class: 'primary', testid: 'transition-submit' }, t('submit'));
    const form = h('form', { class: 'form-grid', testid: 'transition-form', dataset: { to: tr.to } },
      h('h3', { class: 'wide' }, transitionButtons.find((b) => b.dataset.to === tr.to)?.textContent || tr.to),
      h('label', { class: 'wide' }, t('note'), note), rows, error,
      h('div', { class: 'wide' }, submit, ' ', h('button', { type: 'button', onclick: () => mount(actionHost) }, t('cancel'))));
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      error.hidden = true;
      submit.disabled = true;
      const body = { to: tr.to, note: note.value.trim() };
      for (const [need, el] of Object.entries(fields)) {
        if (need === 'penalty_yuan') body[need] = Number(el.value);
        else if (need === 'no_penalty') body[need] = el.checked;
        else if (need === 'officers') body[need] = [...el.selectedOptions].map((o) => o.value);
        else body[need] = el.value.trim();
      }
      try {
        await api.post(`/cases/${encodeURIComponent(id)}/transitions`, body);
        reload(t('transition_done', { to: enumLabel('case_status', tr.to) }));
      } catch (cause) {
        error.textContent = cause instanceof ApiError && cause.field ? `${t(cause.field)}: ${cause.message}` : `${t('error')}: ${cause.message}`;
        error.hidden = false;
        submit.disabled = false;
      }
    });
    mount(actionHost, form);
    note.focus();
  }

  // Assignment (dispatchers).
  let assignForm = null;
  if (user.role === 'dispatcher' || user.role === 'admin') {
    const chosen = officerSelect('assign-officers');
    const reason = h('input', { testid: 'assign-reason' });
    const error = h('p', { class: 'error', hidden: true });
    assignForm = h('form', { class: 'form-grid', testid: 'assign-form' },
      h('label', null, t('officer_ids'), chosen), h('label', null, t('reason'), reason), error,
      h('div', { class: 'wide' }, h('button', { type: 'submit' }, t('assign'))));
    assignForm.addEventListener('submit', async (event) => {
      event.preventDefault();
      try {
        await api.post(`/cases/${encodeURIComponent(id)}/assign`, { officer_ids: [...chosen.selectedOptions].map((o) => o.value), reason: reason.value.trim() });
        reload();
      } catch (cause) { error.textContent = `${t('error')}: ${cause.message}`; error.hidden = false; }
    });
  }

  // Documents: authenticated fetch, shown in a new window (a plain link cannot carry the token).
  const documents = (Array.isArray(item.documents) ? item.documents : []).map((doc) => {
    const path = `/cases/${encodeURIComponent(id)}/documents/${encodeURIComponent(doc.kind)}`;
    return h('li', null, h('a', {
      href: `/api/v1${path}`, target: '_blank', rel: 'noopener', testid: 'document-link', dataset: { kind: doc.kind },
      onclick: (event) => {
        event.preventDefault();
        const win = window.open('', '_blank');
        api.blob(path).then((blob) => {
          const url = URL.createObjectURL(new Blob([blob], { type: 'text/html' }));
          if (win) win.location.href = url; else window.location.href = url;
        }).catch((error) => { if (win) win.close(); showNotice(`${t('error')}: ${error.message}`); });
      },
    }, doc.title || enumLabel('document_kind', doc.kind)));
  });

  // Evidence list and upload.
  const evidenceRows = (Array.isArray(item.evidence) ? item.evidence : []).map((e) => h('tr', { testid: 'evidence-row', dataset: { evidenceId: e.id } },
    h('td', null, e.name || ''), h('td', null, enumLabel('evidence_kind', e.kind)),
    h('td', null, Number.isFinite(e.size) ? `${e.size}` : ''), h('td', { title: e.sha256 || '' }, shortHash(e.sha256)),
    h('td', null, e.uploaded_by || ''), h('td', null, formatTime(e.uploaded_at)),
    h('td', null, h('button', { type: 'button', class: 'link', onclick: () => {
      request('GET', `/cases/${encodeURIComponent(id)}/evidence/${encodeURIComponent(e.id)}`, { as: 'blob' })
        .then((blob) => downloadBlob(blob, e.name || e.id)).catch((error) => showNotice(`${t('error')}: ${error.message}`));
    } }, t('download')))));
  const fileInput = h('input', { type: 'file', required: true, testid: 'evidence-file' });
  const kindSelect = select({ testid: 'evidence-kind' }, enumValues('evidence_kind').map((k) => [k, enumLabel('evidence_kind', k)]));
  const uploadError = h('p', { class: 'error', hidden: true, testid: 'evidence-error' });
  const uploadForm = h('form', { class: 'toolbar', testid: 'evidence-upload-form' },
    h('label', null, t('file'), fileInput), h('label', null, t('evidence_kind'), kindSelect),
    h('button', { type: 'submit', testid: 'evidence-upload' }, t('upload')), uploadError);
  uploadForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    const file = fileInput.files && fileInput.files[0];
    if (!file) return;
    try {
      await api.upload(`/cases/${encodeURIComponent(id)}/evidence`, file, { name: file.name, kind: kindSelect.value });
      reload(`${t('upload')}: ${file.name}`);
    } catch (cause) { uploadError.textContent = `${t('error')}: ${cause.message}`; uploadError.hidden = false; }
  });

  const companyCell = h('td', { testid: 'case-company' }, item.company_id || '');
  if (item.company_id) {
    api.get(`/companies/${encodeURIComponent(item.company_id)}`)
      .then((company) => { if (company && company.name) companyCell.textContent = company.name; })
      .catch(() => { /* the id stays */ });
  }
  const violations = Array.isArray(item.violation_details) ? item.violation_details : [];
  const events = Array.isArray(item.events) ? item.events : [];
  const caseOfficers = Array.isArray(item.officers) ? item.officers.map((o) => (typeof o === 'string' ? o : o && (o.name || o.id))).join('、') : '';

  mount(container, h('div', { class: 'stack case-detail', testid: 'case-detail', dataset: { caseId: item.id } },
    h('p', null, h('a', { href: '#/cases' }, `← ${t('back_to_list')}`)),
    notice,
    h('div', { class: 'case-head' },
      h('h1', { testid: 'case-number' }, item.number || item.id),
      h('span', { class: `badge status-${item.status}`, testid: 'case-status', dataset: { status: item.status || '' } }, enumLabel('case_status', item.status)),
      overdue ? h('span', { class: 'badge overdue', testid: 'overdue-marker' }, t('overdue')) : null),
    h('table', { class: 'kv' },
      h('tr', null, h('th', null, t('case_kind')), h('td', { testid: 'case-kind' }, enumLabel('violation_kind', item.kind))),
      h('tr', null, h('th', null, t('case_source')), h('td', null, enumLabel('case_source', item.source))),
      h('tr', null, h('th', null, t('plate')), h('td', { testid: 'case-plate' }, item.plate || item.vehicle_id || '')),
      h('tr', null, h('th', null, t('company')), companyCell),
      h('tr', null, h('th', null, t('opened_at')), h('td', null, formatTime(item.opened_at))),
      h('tr', null, h('th', null, t('officers')), h('td', null, caseOfficers))),
    deadlines.length ? h('ul', { class: 'deadlines', testid: 'deadlines' }, deadlines) : null,
    h('div', { class: 'split case-split' },
      h('div', null, h('p', null, `${t('evidence_track')}: `, trackStatus), mapEl),
      h('div', { class: 'side' },
        section(t('actions'), 'case-actions',
          transitionButtons.length ? h('div', { class: 'buttons' }, transitionButtons) : h('p', { class: 'muted' }, t('no_actions')),
          actionHost),
        assignForm ? section(t('assign'), 'case-assign', assignForm) : null,
        section(t('documents'), 'case-documents', documents.length ? h('ul', null, documents) : h('p', { class: 'muted' }, t('none'))))),
    section(t('violations'), 'case-violations', h('table', { class: 'grid' },
      h('thead', null, h('tr', null, [t('kind'), t('started_at'), t('ended_at'), t('severity'), t('location'), t('state')].map((c) => h('th', null, c)))),
      h('tbody', null, violations.map((v) => h('tr', { testid: 'violation-row', dataset: { violationId: v.id } },
        h('td', null, enumLabel('violation_kind', v.kind)), h('td', null, formatTime(v.started_at)), h('td', null, formatTime(v.ended_at)),
        h('td', null, String(v.severity ?? '')), h('td', null, Number.isFinite(v.lat) ? `${v.lat.toFixed(5)}, ${v.lon.toFixed(5)}` : ''),
        h('td', null, v.status === 'closed' ? t('closed') : t('open'))))))),
    section(t('evidence'), 'case-evidence', h('table', { class: 'grid' },
      h('thead', null, h('tr', null, [t('file'), t('evidence_kind'), t('size'), t('sha256'), t('uploaded_by'), t('uploaded_at'), ''].map((c) => h('th', null, c)))),
      h('tbody', null, evidenceRows)), uploadForm),
    section(t('audit_events'), 'case-events', h('table', { class: 'grid' },
      h('thead', null, h('tr', null, [t('seq'), t('time'), t('actor'), t('action'), t('before'), t('after'), t('hash')].map((c) => h('th', null, c)))),
      h('tbody', null, events.map((e) => h('tr', { testid: 'audit-row' },
        h('td', null, String(e.seq ?? '')), h('td', null, formatTime(e.at)), h('td', null, e.actor || ''), h('td', null, e.action || ''),
        h('td', null, fmtJson(e.before)), h('td', null, fmtJson(e.after)), h('td', { title: e.hash || '' }, shortHash(e.hash)))))))));

  // The map last: it needs its element in the page to size itself.
  const config = await consoleConfig();
  if (!mapEl.isConnected) return undefined;
  view = new MapView(mapEl, config);
  view.drawFences().catch((error) => console.warn(error));
  const violationMarks = [];
  for (const v of violations) {
    if (!Number.isFinite(v.lat) || !Number.isFinite(v.lon)) continue;
    const at = view.toDisplay(v.lat, v.lon);
    violationMarks.push(at);
    L.circleMarker(at, { radius: 9, color: '#d50000', weight: 3, fillOpacity: 0.2, renderer: view.svg, className: 'violation-point' })
      .bindTooltip(h('span', null, enumLabel('violation_kind', v.kind), h('br'), formatTime(v.started_at)))
      .addTo(view.map);
  }
  if (!violationMarks.length && Number.isFinite(item.lat) && Number.isFinite(item.lon)) {
    const at = view.toDisplay(item.lat, item.lon);
    violationMarks.push(at);
    L.circleMarker(at, { radius: 9, color: '#d50000', weight: 3, fillOpacity: 0.2, renderer: view.svg, className: 'violation-point' }).addTo(view.map);
  }
  view.fit(violationMarks);

  let points = [];
  const period = evidencePeriod(item);
  if (item.vehicle_id && period) {
    try { points = await fetchTrack(item.vehicle_id, period.from, period.to); } catch (error) { console.warn('track', error); }
  }
  if (!points.length) points = evidencePositions(item);
  if (view && view.map) {
    if (points.length) {
      const drawn = drawTrack(view, points, 'evidence-track', '#d50000');
      view.fit([...drawn.latlngs, ...violationMarks]);
    }
    trackStatus.dataset.points = String(points.length);
    trackStatus.textContent = points.length ? `${points.length} ${t('replay_points')}${period ? ` (${formatTime(period.from)} – ${formatTime(period.to)})` : ''}` : t('no_track');
  }

  return () => {
    if (view) view.destroy();
    if (typeof cleanupNext === 'function') cleanupNext();
  };
}
