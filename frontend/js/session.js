// The session: who is logged in (shared by the router and the pages), logging in and out.
// The CSRF token itself is kept by api.js; this module sets and clears it with the session.

import { api, setCsrf } from './api.js';
import { setServerZone } from './format.js';

let me = null;

/** The one shared session: session.user ({username, role} or null), session.isAdmin. */
export const session = { get user() { return me; }, get isAdmin() { return !!me && me.role === 'admin'; } };

/** Ask the server for the current session (GET /auth/session); throws ApiError 401 when there is none. */
export async function loadSession() {
  const who = await api('/auth/session', { quiet401: true });
  if (who.csrf_token) setCsrf(who.csrf_token);
  setServerZone(who.timezone);
  me = { username: who.username, role: who.role };
  return me;
}

/** Log in (POST /auth/login); throws ApiError (401 wrong password, 429 locked) on failure. */
export async function logIn(username, password) {
  const out = await api('/auth/login', { method: 'POST', body: { username, password }, quiet401: true });
  setCsrf(out.csrf_token);
  setServerZone(out.timezone);
  me = { username: out.username, role: out.role };
  return me;
}

/** Forget the session here (the user and the CSRF token). */
export function endSession() {
  me = null;
  setCsrf(null);
}

/** Log out on the server (POST /auth/logout; the session ends here even when that fails). */
export async function logOut() {
  try { await api('/auth/logout', { method: 'POST', quiet401: true }); } catch (e) { /* ended anyway */ }
  endSession();
}
