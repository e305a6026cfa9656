// Login: POST /auth/login, the session kept in localStorage.

import { api, session, ApiError } from '../api.js';
import { h, mount } from '../dom.js';
import { t } from '../i18n.js';

export function render(container, { params, homeFor }) {
  const error = h('p', { class: 'error', testid: 'login-error', role: 'alert', hidden: true });
  const username = h('input', { name: 'username', autocomplete: 'username', required: true, testid: 'login-username' });
  const password = h('input', { name: 'password', type: 'password', autocomplete: 'current-password', required: true, testid: 'login-password' });
  const submit = h('button', { type: 'submit', class: 'primary', testid: 'login-submit' }, t('login_submit'));
  const form = h('form', { class: 'login card', testid: 'login-form' },
    h('h1', null, t('app_title')),
    h('h2', null, t('login_title')),
    h('label', null, t('username'), username),
    h('label', null, t('password'), password),
    submit,
    error,
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    error.hidden = true;
    submit.disabled = true;
    try {
      const answer = await api.post('/auth/login', { username: username.value.trim(), password: password.value });
      session.set({
        token: answer.token,
        role: answer.role,
        company_id: answer.company_id ?? null,
        name: answer.name || username.value.trim(),
        expires_at: answer.expires_at ?? null,
      });
      const next = params.get('next');
      window.location.hash = next && next.startsWith('#/') && !next.startsWith('#/login') ? next : homeFor(answer.role);
    } catch (cause) {
      let message = t('login_failed');
      if (cause instanceof ApiError) {
        if (cause.status === 401 || cause.status === 400) message = t('login_bad_credentials');
        else if (cause.status === 429) message = t('login_rate_limited');
        else if (cause.status === 0) message = t('network_error');
        else message = `${t('login_failed')} (HTTP ${cause.status}${cause.serverMessage ? `: ${cause.serverMessage}` : ''})`;
      }
      error.textContent = message;
      error.hidden = false;
    } finally {
      submit.disabled = false;
    }
  });
  mount(container, h('div', { class: 'login-wrap' }, form));
  username.focus();
}
