// The API client: JSON in and out, the CSRF header on changes, 401 -> the login page.

const CSRF_KEY = 'vigil.csrf';
let csrf = sessionStorage.getItem(CSRF_KEY);
let onUnauthorized = () => {};

export class ApiError extends Error {
  constructor(status, detail) {
    super(detail || `HTTP ${status}`);
    this.status = status;
  }
}

export function setCsrf(token) {
  csrf = token;
  if (token) sessionStorage.setItem(CSRF_KEY, token);
  else sessionStorage.removeItem(CSRF_KEY);
}

export function whenUnauthorized(fn) { onUnauthorized = fn; }

export const V1 = '/api/v1';

/** A URL under /api/v1 with query parameters (empty ones left out). */
export function url(path, params = {}) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  }
  const s = q.toString();
  return `${V1}${path}${s ? `?${s}` : ''}`;
}

/**
 * fetch JSON. opts: {method, body, params, signal, allow: [statuses returned instead of thrown],
 * quiet401: do not jump to the login page}.
 */
export async function api(path, opts = {}) {
  const method = (opts.method || 'GET').toUpperCase();
  const headers = { Accept: 'application/json' };
  if (opts.body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && method !== 'HEAD' && csrf) headers['X-CSRF-Token'] = csrf;
  const res = await fetch(url(path, opts.params), {
    method, headers, credentials: 'same-origin', signal: opts.signal,
    body: opts.body !== undefined ? JSON.stringify(opts.body) : undefined,
  });
  let data = null;
  if (res.status !== 204) {
    const type = res.headers.get('content-type') || '';
    data = type.includes('json') ? await res.json().catch(() => null) : await res.text();
  }
  if (res.ok || (opts.allow && opts.allow.includes(res.status))) {
    return opts.withStatus ? { status: res.status, data, headers: res.headers } : data;
  }
  if (res.status === 401 && !opts.quiet401) onUnauthorized();
  const detail = data && typeof data === 'object' && data.detail ? String(data.detail) : `HTTP ${res.status}`;
  throw new ApiError(res.status, detail);
}

export const get = (path, params, more = {}) => api(path, { ...more, params });
export const post = (path, body, more = {}) => api(path, { ...more, method: 'POST', body });
export const put = (path, body) => api(path, { method: 'PUT', body });
export const patch = (path, body) => api(path, { method: 'PATCH', body });
export const del = (path, params) => api(path, { method: 'DELETE', params });
