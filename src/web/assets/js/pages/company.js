// Company view: a company's fleet, its compliance over a period (figures, daily chart, by kind,
// per vehicle, CSV export), its recent violations and its cases. A company login sees its own.

import { api, listAll } from '../api.js';
import { barChart, timeChart } from '../charts.js';
import { h, mount, downloadBlob } from '../dom.js';
import { t, enumLabel } from '../i18n.js';
import { formatTime, dateInputToIso, shanghaiDate } from '../time.js';

function pct(rate) {
  return Number.isFinite(rate) ? `${(rate * 100).toFixed(1)}%` : '–';
}

export async function render(container, { id, params, user }) {
  const companyId = user.role === 'company' ? user.company_id : id;
  const fromInput = h('input', { type: 'date', value: params.get('from') || shanghaiDate(29), testid: 'company-from' });
  const toInput = h('input', { type: 'date', value: params.get('to') || shanghaiDate(0), testid: 'company-to' });
  const chooser = h('select', { testid: 'company-select' }, h('option', { value: '' }, '—'));
  const body = h('div', { class: 'stack', testid: 'company-body' });
  const form = h('form', { class: 'toolbar', testid: 'company-form' },
    user.role === 'company' ? null : h('label', null, t('choose_company'), chooser),
    h('label', null, t('period_from'), fromInput), h('label', null, t('period_to'), toInput),
    h('button', { type: 'submit', class: 'primary' }, t('search')));
  mount(container, h('div', { class: 'stack' }, h('h1', null, t('company_title')), form, body));

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const chosen = user.role === 'company' ? '' : chooser.value;
    const query = new URLSearchParams({ from: fromInput.value, to: toInput.value });
    window.location.hash = `#/company${chosen ? `/${encodeURIComponent(chosen)}` : ''}?${query}`;
  });

  if (user.role !== 'company') {
    listAll('/companies').then((items) => {
      for (const c of items) chooser.append(h('option', { value: c.id }, c.name || c.id));
      chooser.value = companyId || '';
    }).catch((error) => console.warn('companies', error));
  }
  if (!companyId) {
    mount(body, h('p', { class: 'muted' }, t('choose_company')));
    return undefined;
  }

  const from = dateInputToIso(fromInput.value);
  const to = dateInputToIso(toInput.value, true);
  const path = `/companies/${encodeURIComponent(companyId)}/compliance`;
  mount(body, h('p', { class: 'muted' }, t('loading')));
  const [compliance, fleet, violations, cases] = await Promise.all([
    api.get(path, { from, to }).catch((error) => ({ error })),
    listAll('/vehicles', { company_id: companyId }).catch((error) => ({ error })),
    api.get('/violations', { company_id: companyId, from, to, limit: 100 }).catch((error) => ({ error })),
    api.get('/cases', { company_id: companyId, limit: 100 }).catch((error) => ({ error })),
  ]);
  if (!body.isConnected) return undefined;
  const failed = (value) => value && value.error ? h('p', { class: 'error' }, `${t('error')}: ${value.error.message}`) : null;

  const csvButton = h('a', { href: `/api/v1${path}?format=csv`, class: 'button', testid: 'csv-export', onclick: (event) => {
    event.preventDefault();
    api.blob(path, { from, to, format: 'csv' })
      .then((blob) => downloadBlob(blob, `compliance-${companyId}-${fromInput.value}-${toInput.value}.csv`))
      .catch((error) => console.warn('csv', error));
  } }, t('export_csv'));

  let summary = failed(compliance);
  if (!summary) {
    const byKind = Object.entries(compliance.violations_by_kind || {}).map(([key, value]) => ({ key, label: enumLabel('violation_kind', key), value: Number(value) }));
    const days = Array.isArray(compliance.by_day) ? compliance.by_day : [];
    summary = h('div', { class: 'stack' },
      h('div', { class: 'kpis', testid: 'compliance-kpis' },
        h('div', { class: 'kpi' }, h('span', null, t('vehicles_count')), h('strong', { testid: 'kpi-vehicles' }, String(compliance.vehicles ?? '–'))),
        h('div', { class: 'kpi' }, h('span', null, t('trips')), h('strong', { testid: 'kpi-trips' }, String(compliance.trips ?? '–'))),
        h('div', { class: 'kpi' }, h('span', null, t('violations_count')), h('strong', { testid: 'kpi-violations' }, String(compliance.violations ?? '–'))),
        h('div', { class: 'kpi' }, h('span', null, t('compliance_rate')), h('strong', { testid: 'kpi-rate' }, pct(compliance.compliance_rate))),
        csvButton),
      h('h2', null, t('compliance_over_time')),
      timeChart(days.map((d) => ({ date: String(d.date), value: Number(d.violations) })),
        days.filter((d) => Number.isFinite(d.compliance_rate)).map((d) => ({ date: String(d.date), value: d.compliance_rate })),
        { testid: 'compliance-chart', barLabel: t('violations_count'), lineLabel: t('compliance_rate') }),
      h('h2', null, t('violations_by_kind')),
      barChart(byKind, { testid: 'kind-chart' }),
      h('h2', null, t('per_vehicle')),
      h('table', { class: 'grid', testid: 'compliance-rows' },
        h('thead', null, h('tr', null, [t('plate'), t('trips'), t('violations_count'), t('compliance_rate')].map((c) => h('th', null, c)))),
        h('tbody', null, (compliance.rows || []).map((r) => h('tr', null,
          h('td', null, r.plate || r.vehicle_id || ''), h('td', null, String(r.trips ?? '')),
          h('td', null, String(r.violations ?? '')), h('td', null, pct(r.compliance_rate)))))));
  }

  const fleetTable = failed(fleet) || h('table', { class: 'grid', testid: 'fleet-table' },
    h('thead', null, h('tr', null, [t('plate'), t('state'), t('speed'), t('load'), t('permit'), t('last_fix')].map((c) => h('th', null, c)))),
    h('tbody', null, fleet.map((v) => h('tr', { testid: 'fleet-row', dataset: { vehicleId: v.id, companyId: v.company_id || '' } },
      h('td', null, h('a', { href: `#/replay?vehicle=${encodeURIComponent(v.id)}` }, v.plate || v.id)),
      h('td', null, h('span', { class: `badge state-${v.state}` }, enumLabel('vehicle_state', v.state))),
      h('td', null, v.latest && Number.isFinite(v.latest.speed_kmh) ? `${v.latest.speed_kmh.toFixed(1)} ${t('kmh')}` : ''),
      h('td', null, v.latest ? enumLabel('load', v.latest.load || 'unknown') : ''),
      h('td', null, v.permit_id || ''),
      h('td', null, v.latest ? formatTime(v.latest.time) : '')))));

  const violationList = failed(violations) || h('table', { class: 'grid', testid: 'company-violations' },
    h('thead', null, h('tr', null, [t('kind'), t('vehicle'), t('started_at'), t('state')].map((c) => h('th', null, c)))),
    h('tbody', null, (violations.items || []).map((v) => h('tr', null,
      h('td', null, enumLabel('violation_kind', v.kind)), h('td', null, v.vehicle_id || v.phone || ''),
      h('td', null, formatTime(v.started_at)), h('td', null, v.status === 'closed' ? t('closed') : t('open'))))));

  const caseList = failed(cases) || h('table', { class: 'grid', testid: 'company-cases' },
    h('thead', null, h('tr', null, [t('case_number'), t('case_kind'), t('case_status'), t('opened_at')].map((c) => h('th', null, c)))),
    h('tbody', null, (cases.items || []).map((c) => h('tr', { class: c.overdue ? 'overdue' : '' },
      h('td', null, h('a', { href: `#/cases/${encodeURIComponent(c.id)}` }, c.number || c.id)),
      h('td', null, enumLabel('violation_kind', c.kind)), h('td', null, enumLabel('case_status', c.status)),
      h('td', null, formatTime(c.opened_at))))));

  mount(body,
    h('h2', null, t('compliance')), summary,
    h('h2', null, `${t('fleet')} (${Array.isArray(fleet) ? fleet.length : 0})`), fleetTable,
    h('h2', null, t('recent_violations')), violationList,
    h('h2', null, t('company_cases')), caseList);
  return undefined;
}
