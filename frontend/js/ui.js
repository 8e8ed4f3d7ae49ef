// Messages for people: toasts, and reporting a failed API call as one.

import { ApiError } from './api.js';
import { setText } from './dom.js';

let toastTimer = null;
/** A short message at the top; kind: 'info' | 'error'. */
export function toast(message, kind = 'info') {
  const el = document.getElementById('toast');
  setText(el, message);
  el.className = `toast ${kind}`;
  el.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { el.hidden = true; }, kind === 'error' ? 8000 : 3000);
}

/** Report an error from an API call (401 is handled by the router). */
export function fail(err) {
  if (err instanceof ApiError && err.status === 401) return;
  if (err && err.name === 'AbortError') return;
  toast(err && err.message ? err.message : String(err), 'error');
}
