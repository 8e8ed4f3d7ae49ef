// Search recordings by camera, location, time range, length and what was seen (object events), with paging.

import { get } from '../api.js';
import { fail } from '../ui.js';
import { cameraSelect, listCameras } from '../cameras.js';
import { h, setText } from '../dom.js';
import { bytes, dateTime, duration, serverDay } from '../format.js';

const PAGE = 25;
// The detector's default event labels (VIGIL_DETECTOR_LABELS); any other label can be typed.
const OBJECT_LABELS = ['person', 'car', 'bicycle', 'motorbike', 'bus', 'truck', 'dog', 'cat', 'bird', 'horse'];

export function show(root) {
  const form = h('form.filters#search-form');
  const results = h('tbody#results');
  const summary = h('p.muted#search-summary');
  const prev = h('button#prev', { type: 'button' }, '‹ Previous');
  const next = h('button#next', { type: 'button' }, 'Next ›');
  const video = h('video.player#search-player', { controls: true, muted: true, hidden: true });
  let offset = 0;
  root.append(h('div.page-head', h('h1', 'Search recordings')), form, summary, h('div.search-player', video),
    h('div.table-wrap', h('table.list', h('thead', h('tr', ['Camera', 'Start', 'Length', 'Size', ''].map((t) => h('th', t)))), results)),
    h('div.pager', prev, next));

  function params() {
    const f = new FormData(form);
    const iso = (v) => (v ? new Date(v).toISOString() : '');
    return {
      camera_id: f.get('camera') || '', location: (f.get('location') || '').trim(),
      start: iso(f.get('start')), end: iso(f.get('end')),
      min_duration: f.get('min') || '', max_duration: f.get('max') || '',
      label: (f.get('label') || '').trim().toLowerCase(),
      limit: PAGE, offset,
    };
  }

  async function run() {
    try {
      const page = await get('/recordings', params());
      results.replaceChildren(...page.items.map((r) => h('tr',
        h('td', r.camera_id), h('td', dateTime(r.start)), h('td', duration(r.duration_s)), h('td', bytes(r.bytes)),
        h('td.actions',
          h('button', { type: 'button', onclick: () => { video.hidden = false; video.src = r.url; video.scrollIntoView({ block: 'nearest' }); const p = video.play(); if (p) p.catch(() => {}); } }, 'Play'),
          h('a.button', { href: r.url, download: `${r.camera_id}-${r.id}.mp4` }, 'Download'),
          h('a.button', { href: `#/recordings?camera=${encodeURIComponent(r.camera_id)}&date=${serverDay(new Date(r.start))}&t=${encodeURIComponent(r.start)}` }, 'Timeline')))));
      const last = offset + page.items.length;
      setText(summary, page.total ? `${offset + 1}–${last} of ${page.total}${page.total_exact ? '' : '+'} recordings` : 'No recordings match.');
      prev.disabled = offset === 0;
      next.disabled = last >= page.total;
    } catch (err) { fail(err); }
  }

  prev.addEventListener('click', () => { offset = Math.max(0, offset - PAGE); run(); });
  next.addEventListener('click', () => { offset += PAGE; run(); });
  form.addEventListener('submit', (ev) => { ev.preventDefault(); offset = 0; run(); });

  (async () => {
    let cams = [];
    try { cams = await listCameras(); } catch (err) { fail(err); }
    const locations = [...new Set(cams.map((c) => c.location).filter(Boolean))].sort();
    const loc = h('input', { name: 'location', list: 'locations', placeholder: 'any' });
    form.append(
      h('label', 'Camera', cameraSelect(cams, '', { any: true })),
      h('label', 'Location', loc, h('datalist#locations', locations.map((l) => h('option', { value: l })))),
      h('label', 'From', h('input', { name: 'start', type: 'datetime-local' })),
      h('label', 'To', h('input', { name: 'end', type: 'datetime-local' })),
      h('label', 'Min length (s)', h('input', { name: 'min', type: 'number', min: 0, step: 'any' })),
      h('label', 'Max length (s)', h('input', { name: 'max', type: 'number', min: 0, step: 'any' })),
      // Recordings made while the detector saw such an object on that camera.
      h('label', 'With', h('input', { name: 'label', list: 'object-labels', placeholder: 'anything', maxlength: 32 }),
        h('datalist#object-labels', OBJECT_LABELS.map((l) => h('option', { value: l })))),
      h('button.primary', { type: 'submit' }, 'Search'));
    run();
  })();
  return { leave() { video.removeAttribute('src'); video.load(); } };
}
