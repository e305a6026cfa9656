// The console shell: top bar, hash router, login guard, language switch.

import { session } from './api.js';
import { h, mount } from './dom.js';
import { t, lang, setLang, onLangChange, enumLabel } from './i18n.js';
import { formatTime } from './time.js';
import * as loginPage from './pages/login.js';
import * as livePage from './pages/live.js';
import * as replayPage from './pages/replay.js';
import * as casesPage from './pages/cases.js';
import * as caseDetailPage from './pages/case-detail.js';
import * as companyPage from './pages/company.js';
import * as statsPage from './pages/stats.js';

/** Nav entries per role; the server enforces access, this only hides what a role cannot use. */
const NAV = [
  { key: 'nav_live', hash: '#/map', route: 'map', roles: ['admin', 'dispatcher', 'officer', 'company'] },
  { key: 'nav_replay', hash: '#/replay', route: 'replay', roles: ['admin', 'dispatcher', 'officer', 'company'] },
  { key: 'nav_cases', hash: '#/cases', route: 'cases', roles: ['admin', 'dispatcher', 'officer', 'company', 'auditor'] },
  { key: 'nav_company', hash: '#/company', route: 'company', roles: ['admin', 'dispatcher', 'company', 'auditor'] },
  { key: 'nav_stats', hash: '#/stats', route: 'stats', roles: ['admin', 'dispatcher', 'officer', 'auditor'] },
];

/** Where a role lands after login. */
export function homeFor(role) {
  if (role === 'company') return '#/company';
  if (role === 'officer' || role === 'auditor') return '#/cases';
  return '#/map';
}

/** Parses `#/cases/ID?status=filed` into segments and parameters. */
export function parseHash(hash) {
  const raw = (hash || '').replace(/^#\/?/, '');
  const at = raw.indexOf('?');
  const pathPart = at >= 0 ? raw.slice(0, at) : raw;
  const queryPart = at >= 0 ? raw.slice(at + 1) : '';
  const segments = pathPart.split('/').filter(Boolean).map((s) => {
    try { return decodeURIComponent(s); } catch { return s; }
  });
  return { segments, params: new URLSearchParams(queryPart) };
}

function resolve(segments) {
  const [first, second] = segments;
  switch (first) {
    case 'login': return { page: loginPage, route: 'login' };
    case 'map': return { page: livePage, route: 'map' };
    case 'replay': return { page: replayPage, route: 'replay' };
    case 'cases': return second ? { page: caseDetailPage, route: 'cases', id: second } : { page: casesPage, route: 'cases' };
    case 'company': return { page: companyPage, route: 'company', id: second || null };
    case 'stats': return { page: statsPage, route: 'stats' };
    default: return null;
  }
}

const app = document.getElementById('app');
const topbar = document.getElementById('topbar');
let cleanup = null;
let clockTimer = 0;
let generation = 0; // which route() call owns the page; a slower earlier render must not win

function renderTopbar(route) {
  const user = session.get();
  const clock = h('span', { class: 'clock', testid: 'clock', title: t('beijing_time') });
  const tick = () => { clock.textContent = `${formatTime(new Date())} ${t('beijing_time')}`; };
  tick();
  clearInterval(clockTimer);
  clockTimer = setInterval(tick, 1000);
  const nav = user
    ? NAV.filter((item) => item.roles.includes(user.role)).map((item) =>
      h('a', { href: item.hash, class: item.route === route ? 'active' : '', testid: `nav-${item.route}` }, t(item.key)))
    : [];
  mount(topbar,
    h('span', { class: 'brand' }, 'haulwatch ', h('small', null, t('app_title'))),
    h('nav', null, nav),
    h('span', { class: 'spacer' }),
    clock,
    user ? h('span', { class: 'user', testid: 'user' }, user.name || '', ' · ', enumLabel('role', user.role)) : null,
    h('button', { type: 'button', class: 'link', testid: 'lang-toggle', onclick: () => setLang(lang() === 'en' ? 'zh' : 'en') }, t('lang_toggle')),
    user ? h('button', { type: 'button', class: 'link', testid: 'logout', onclick: logout }, t('logout')) : null,
  );
}

function logout() {
  session.clear();
  window.location.hash = '#/login';
}

async function route() {
  generation += 1;
  const mine = generation;
  if (cleanup) {
    try { cleanup(); } catch (error) { console.error(error); }
    cleanup = null;
  }
  const { segments, params } = parseHash(window.location.hash);
  const user = session.get();
  if (!user && segments[0] !== 'login') {
    const next = window.location.hash && window.location.hash !== '#/' ? window.location.hash : '';
    window.location.replace(`#/login${next ? `?next=${encodeURIComponent(next)}` : ''}`);
    return;
  }
  if (segments.length === 0) {
    window.location.replace(homeFor(user.role));
    return;
  }
  const target = resolve(segments);
  renderTopbar(target ? target.route : '');
  mount(app);
  app.className = target ? `page-${target.route}` : 'page-missing';
  if (!target) {
    mount(app, h('p', { class: 'error', testid: 'not-found' }, t('not_found')));
    return;
  }
  const context = { params, id: target.id, user, homeFor };
  try {
    const result = await target.page.render(app, context);
    const release = typeof result === 'function' ? result : null;
    if (mine === generation) cleanup = release;
    else if (release) release(); // the user moved on while this page was loading
  } catch (error) {
    console.error(error);
    if (mine !== generation) return;
    mount(app, h('p', { class: 'error', testid: 'page-error' }, `${t('error')}: ${error.message || error}`));
  }
}

window.addEventListener('hashchange', route);
window.addEventListener('haulwatch:unauthorized', () => {
  if (!window.location.hash.startsWith('#/login')) window.location.hash = '#/login';
});
onLangChange(route);
document.documentElement.lang = lang() === 'en' ? 'en' : 'zh-CN';
document.title = `haulwatch · ${t('app_title')}`;
route();
