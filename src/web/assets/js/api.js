// The HTTP API client (docs/api.md): bearer token from the login kept in localStorage, the
// error shape turned into ApiError, cursor pagination, authenticated downloads.

const SESSION_KEY = 'haulwatch.session';
const BASE = '/api/v1';

/** The logged-in user: {token, role, company_id, name, expires_at}, or null. */
export const session = {
  get() {
    let value = null;
    try { value = JSON.parse(localStorage.getItem(SESSION_KEY) || 'null'); } catch { value = null; }
    if (!value || typeof value.token !== 'string') return null;
    if (value.expires_at && Date.parse(value.expires_at) <= Date.now()) {
      localStorage.removeItem(SESSION_KEY);
      return null;
    }
    return value;
  },
  set(value) { localStorage.setItem(SESSION_KEY, JSON.stringify(value)); },
  clear() { localStorage.removeItem(SESSION_KEY); },
};

/** A failed API call: HTTP status plus the API's `{error: {code, message, field}}`. */
export class ApiError extends Error {
  constructor(status, code, message, field) {
    super(message || code || `HTTP ${status}`);
    this.status = status;
    this.serverMessage = message || '';
    this.code = code || 'http_error';
    this.field = field || null;
  }
}

function queryString(query) {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query || {})) {
    if (value === undefined || value === null || value === '') continue;
    params.set(key, String(value));
  }
  const text = params.toString();
  return text ? `?${text}` : '';
}

/** The full URL of an API path (used for links shown to the user). */
export function apiUrl(path, query) {
  return `${BASE}${path}${queryString(query)}`;
}

async function errorFrom(response) {
  let body = null;
  try { body = await response.json(); } catch { body = null; }
  const error = body && typeof body === 'object' ? body.error || {} : {};
  return new ApiError(response.status, error.code, error.message, error.field);
}

/**
 * Sends one request. `json` is sent as a JSON body, `body` as-is (uploads); `as` chooses the
 * result: 'json' (default), 'blob' or 'text'. A 401 ends the session (the token expired or was
 * revoked) and tells the app to show the login page.
 */
export async function request(method, path, { query, json, body, contentType, as = 'json' } = {}) {
  const headers = { Accept: as === 'json' ? 'application/json' : '*/*' };
  const current = session.get();
  if (current) headers.Authorization = `Bearer ${current.token}`;
  let payload = body;
  if (json !== undefined) {
    headers['Content-Type'] = 'application/json';
    payload = JSON.stringify(json);
  } else if (body !== undefined) {
    headers['Content-Type'] = contentType || 'application/octet-stream';
  }
  let response;
  try {
    response = await fetch(apiUrl(path, query), { method, headers, body: payload });
  } catch (cause) {
    throw new ApiError(0, 'network', String(cause && cause.message ? cause.message : cause));
  }
  if (!response.ok) {
    if (response.status === 401 && path !== '/auth/login') {
      session.clear();
      window.dispatchEvent(new CustomEvent('haulwatch:unauthorized'));
    }
    throw await errorFrom(response);
  }
  if (response.status === 204) return null;
  if (as === 'blob') return response.blob();
  if (as === 'text') return response.text();
  return response.json();
}

export const api = {
  get: (path, query) => request('GET', path, { query }),
  post: (path, json, query) => request('POST', path, { json, query }),
  upload: (path, file, query) => request('POST', path, { body: file, contentType: file.type || 'application/octet-stream', query }),
  blob: (path, query) => request('GET', path, { query, as: 'blob' }),
};

/** Follows `next` cursors and returns all items, up to `maxItems`. */
export async function listAll(path, query = {}, maxItems = 50_000) {
  const items = [];
  let cursor = null;
  do {
    const page = await api.get(path, { ...query, limit: 1000, cursor });
    for (const item of page.items || []) items.push(item);
    cursor = page.next || null;
  } while (cursor && items.length < maxItems);
  return items;
}

/** The live WebSocket URL for the current session (`?token=`: browsers cannot set headers). */
export function liveUrl(query = {}) {
  const scheme = window.location.protocol === 'https:' ? 'wss:' : 'ws:';
  const current = session.get();
  const params = { ...query, token: current ? current.token : '' };
  return `${scheme}//${window.location.host}${BASE}/live${queryString(params)}`;
}
