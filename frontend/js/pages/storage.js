// Storage: disk use, bytes per camera, bytes per hour per camera (chart), retention in force.

import { get } from '../api.js';
import { session } from '../session.js';
import { fail } from '../ui.js';
import { stackedBars } from '../chart.js';
import { h, setText } from '../dom.js';
import { ago, bytes, dateTime, serverDay } from '../format.js';

export function show(root) {
  const disk = h('div#disk');
  const cams = h('tbody#storage-cameras');
  const retention = h('p#retention-summary');
  const dayInput = h('input#storage-day', { type: 'date', value: serverDay(), 'aria-label': 'Day' });
  const chartHolder = h('div#hours-chart');
  let chart = null;
  root.append(h('div.page-head', h('h1', 'Storage')), disk,
    h('h2', 'Recorded per hour'), h('div.toolbar', h('label', 'Day ', dayInput)), chartHolder,
    h('h2', 'Per camera'),
    h('div.table-wrap', h('table.list', h('thead', h('tr', ['Camera', 'Segments', 'Size', 'Oldest', 'Newest'].map((t) => h('th', t)))), cams)),
    h('h2', 'Retention'), retention,
    session.isAdmin ? h('p', h('a', { href: '#/settings' }, 'Change the retention settings')) : null);

  async function loadSummary() {
    try {
      const s = await get('/storage');
      const parts = [
        h('p', `Recordings ${bytes(s.bytes_segments)}, snapshots ${bytes(s.bytes_snapshots)}, day videos ${bytes(s.bytes_day_videos)}, exports ${bytes(s.bytes_exports)}: ${bytes(s.bytes_total)} in all.`),
        // Sizes and counts are those the recorder last published (or the server's own count, kept a few minutes).
        h('p.muted#storage-updated', { title: s.updated_at ? dateTime(s.updated_at) : '' },
          `Sizes and counts as of ${s.updated_at ? ago(s.updated_at) : 'unknown'}${s.source === 'recorder' ? ' (the recorder\'s last retention pass)' : ''}; per camera as of ${s.cameras_updated_at ? ago(s.cameras_updated_at) : 'unknown'}.`),
      ];
      if (s.disk) {
        parts.unshift(h('div.disk-line', h('span', `Disk: ${bytes(s.disk.used)} used of ${bytes(s.disk.total)}, ${bytes(s.disk.free)} free`),
          h('meter#disk-meter', { min: 0, max: s.disk.total, value: s.disk.used, high: s.disk.total * 0.85, optimum: 0 })));
      }
      disk.replaceChildren(...parts);
      cams.replaceChildren(...s.cameras.map((c) => h('tr', h('td', c.camera_id), h('td', String(c.segments)), h('td', bytes(c.bytes)),
        h('td', dateTime(c.oldest)), h('td', dateTime(c.newest)))));
      const r = s.retention;
      setText(retention, `Footage is kept ${r.days} days${r.max_bytes !== null ? `, at most ${bytes(r.max_bytes)} in all` : ''}${r.min_free_bytes !== null ? `, keeping ${bytes(r.min_free_bytes)} free` : ''}.${r.overridden.length ? ` (Changed in the app: ${r.overridden.join(', ')}.)` : ''}`);
    } catch (err) { fail(err); }
  }

  async function loadHours() {
    try {
      const out = await get('/storage/hours', { date: dayInput.value || serverDay() });
      if (chart) chart.destroy();
      chartHolder.replaceChildren();
      if (!out.cameras.length) { chartHolder.append(h('p.muted', 'Nothing recorded that day.')); chart = null; return; }
      chart = stackedBars(out.cameras.map((c) => ({ name: c.camera_id, values: c.bytes_per_hour })),
        Array.from({ length: 24 }, (_, k) => String(k).padStart(2, '0')));
      chartHolder.append(chart);
    } catch (err) { fail(err); }
  }

  dayInput.addEventListener('change', loadHours);
  loadSummary();
  loadHours();
  return { leave() { if (chart) chart.destroy(); } };
}
