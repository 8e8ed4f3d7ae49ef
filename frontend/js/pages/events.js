// Motion and object events with thumbnails (objects: their close-up and label), and the notification log.

import { ApiError, get } from '../api.js';
import { fail } from '../ui.js';
import { cameraSelect, listCameras } from '../cameras.js';
import { h, setText } from '../dom.js';
import { dateTime, duration, serverDay } from '../format.js';

const PAGE = 24;

export function show(root) {
  const camHolder = h('span');
  const grid = h('div.events#events');
  const summary = h('p.muted#events-summary');
  const prev = h('button', { type: 'button' }, '‹ Newer');
  const next = h('button', { type: 'button' }, 'Older ›');
  const log = h('tbody#notifications');
  const logNote = h('p.muted#notifications-note');
  let camera = '';
  let offset = 0;
  root.append(h('div.page-head', h('h1', 'Events')), h('div.toolbar', h('label', 'Camera ', camHolder)), summary, grid,
    h('div.pager', prev, next),
    h('h2', 'Notifications'), logNote,
    h('div.table-wrap', h('table.list', h('thead', h('tr', ['Time', 'Kind', 'Camera', 'Subject', 'Channel', 'Status'].map((t) => h('th', t)))), log)));

  async function loadEvents() {
    try {
      const page = await get('/events', { camera_id: camera, limit: PAGE, offset });
      grid.replaceChildren(...page.items.map((e) => {
        const length = e.end ? duration((Date.parse(e.end) - Date.parse(e.start)) / 1000) : 'ongoing';
        return h('a.event', { href: `#/recordings?camera=${encodeURIComponent(e.camera_id)}&date=${serverDay(new Date(e.start))}&t=${encodeURIComponent(e.start)}` },
          e.thumbnail_url ? h('img', { src: e.thumbnail_url, alt: e.kind === 'object' ? `${e.label} on ${e.camera_id}` : `Motion on ${e.camera_id}`, loading: 'lazy' }) : h('div.tile-empty', 'No thumbnail'),
          // A person's face close-up (cameras with face detection on), over the tile's corner.
          e.face_url ? h('img.event-face', { src: e.face_url, alt: `Face of the ${e.label} on ${e.camera_id}`, loading: 'lazy' }) : null,
          h('div.event-info', h('strong', e.kind === 'object' ? `${e.label} · ${e.camera_id}` : e.camera_id), h('span', dateTime(e.start)),
            h('span.muted', e.kind === 'object' ? `${length}, ${(e.score * 100).toFixed(0)}% sure` : `${length}, score ${(e.score * 100).toFixed(1)}%`)));
      }));
      setText(summary, page.total ? `${offset + 1}–${offset + page.items.length} of ${page.total}${page.total_exact ? '' : '+'} events` : 'No events.');
      prev.disabled = offset === 0;
      next.disabled = offset + page.items.length >= page.total;
    } catch (err) { fail(err); }
  }

  async function loadLog() {
    try {
      const page = await get('/notifications', { limit: 50, camera_id: camera });
      log.replaceChildren(...page.items.map((n) => h('tr',
        h('td', dateTime(n.created_at)), h('td', n.kind), h('td', n.camera_id || '—'), h('td', n.subject),
        h('td', n.channel), h('td', { title: n.error || '' }, n.status))));
      setText(logNote, page.total ? `${page.total} notifications` : 'No notifications yet.');
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) setText(logNote, 'The notification log is not available on this server.');
      else fail(err);
    }
  }

  prev.addEventListener('click', () => { offset = Math.max(0, offset - PAGE); loadEvents(); });
  next.addEventListener('click', () => { offset += PAGE; loadEvents(); });
  (async () => {
    try {
      const sel = cameraSelect(await listCameras(), '', { any: true });
      sel.addEventListener('change', () => { camera = sel.value; offset = 0; loadEvents(); loadLog(); });
      camHolder.append(sel);
    } catch (err) { fail(err); }
    loadEvents();
    loadLog();
  })();
  return null;
}
