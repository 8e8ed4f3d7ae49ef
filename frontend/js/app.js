// The app shell: navigation (hash router) and the login page. The session is session.js's,
// toasts are ui.js's: pages import those, never this module.

import { ApiError, whenUnauthorized } from './api.js';
import { hideBanner, startBanner } from './banner.js';
import { clear, h, setText } from './dom.js';
import { endSession, loadSession, logIn, logOut, session } from './session.js';

const pages = {
  live: () => import('./pages/live.js'),
  camera: () => import('./pages/camera.js'),
  recordings: () => import('./pages/recordings.js'),
  search: () => import('./pages/search.js'),
  events: () => import('./pages/events.js'),
  storage: () => import('./pages/storage.js'),
  settings: () => import('./pages/settings.js'),
};

const main = document.getElementById('main');
const topbar = document.getElementById('topbar');
let current = null; // {leave()} of the page shown
let renderSeq = 0;

function parseHash() {
  const raw = location.hash.replace(/^#\/?/, '');
  const [path, query] = raw.split('?');
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  return { name: parts[0] || 'live', args: parts.slice(1), params: new URLSearchParams(query || '') };
}

function leave() {
  if (current && current.leave) {
    try { current.leave(); } catch (e) { console.warn('leaving page', e); }
  }
  current = null;
}

async function render() {
  const seq = ++renderSeq;
  delete main.dataset.route;
  leave();
  if (!session.user) { showLogin(); return; }
  const route = parseHash();
  const load = pages[route.name];
  if (!load) { location.hash = '#/live'; return; }
  topbar.hidden = false;
  for (const a of document.querySelectorAll('#nav a')) {
    a.classList.toggle('active', a.dataset.page === route.name || (route.name === 'camera' && a.dataset.page === 'live'));
    if (a.hasAttribute('data-admin')) a.hidden = !session.isAdmin;
  }
  document.getElementById('nav').classList.remove('open');
  const mod = await load();
  if (seq !== renderSeq) return;
  clear(main);
  const page = h('section.page');
  main.append(page);
  current = mod.show(page, route) || null;
  main.dataset.route = route.name; // the page shown (tests wait for it)
}

function showLogin(message) {
  topbar.hidden = true;
  hideBanner();
  clear(main);
  const error = h('p.error#login-error', { role: 'alert' });
  if (message) setText(error, message);
  const user = h('input#username', { name: 'username', autocomplete: 'username', required: true, autofocus: true });
  const pass = h('input#password', { name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const button = h('button.primary', { type: 'submit' }, 'Log in');
  const form = h('form.login', { onsubmit: async (ev) => {
    ev.preventDefault();
    button.disabled = true;
    setText(error, '');
    try {
      await logIn(user.value, pass.value);
      afterLogin();
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) setText(error, 'Wrong username or password.');
      else if (err instanceof ApiError && err.status === 429) setText(error, 'This account is locked after too many failed logins. Try again in 15 minutes.');
      else setText(error, `Could not log in: ${err.message}`);
      pass.select();
    } finally {
      button.disabled = false;
    }
  } },
  h('h1', 'Vigil'),
  h('label', 'Username', user),
  h('label', 'Password', pass),
  button,
  error);
  main.append(h('section.login-page', form));
  user.focus();
}

function afterLogin() {
  const me = session.user;
  setText(document.getElementById('whoami'), `${me.username} (${me.role})`);
  startBanner(() => !!session.user);
  if (!location.hash || location.hash === '#/login') location.hash = '#/live';
  else render();
}

whenUnauthorized(() => {
  if (!session.user) return;
  endSession();
  leave();
  showLogin('Your session has ended. Please log in again.');
});

async function start() {
  document.getElementById('logout').addEventListener('click', async () => {
    leave();
    await logOut();
    showLogin('You are logged out.');
  });
  const toggle = document.getElementById('menu-toggle');
  toggle.addEventListener('click', () => {
    const nav = document.getElementById('nav');
    nav.classList.toggle('open');
    toggle.setAttribute('aria-expanded', String(nav.classList.contains('open')));
  });
  window.addEventListener('hashchange', () => { if (session.user) render(); });
  try {
    await loadSession();
    afterLogin();
  } catch (err) {
    showLogin(err instanceof ApiError && err.status === 401 ? '' : `The server did not answer: ${err.message}`);
  }
}

start();
