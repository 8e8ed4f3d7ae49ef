// Recordings: a camera, a day (calendar marks days with footage), the day's timeline, a player
// that plays from any moment across segments, and downloads (segment, day, selected range).

import { api, get, post, url } from '../api.js';
import { fail, toast } from '../ui.js';
import { cameraSelect, listCameras } from '../cameras.js';
import { h, setText } from '../dom.js';
import { bytes, duration, hms, isoDay, serverDay } from '../format.js';
import { SegmentPlayer } from '../player.js';
import { Timeline } from '../timeline.js';

const DAYS = ['Mo', 'Tu', 'We', 'Th', 'Fr', 'Sa', 'Su'];

function download(href, name) {
  const a = h('a', { href, download: name || '' });
  document.body.append(a);
  a.click();
  a.remove();
}

const sleep = (ms) => new Promise((r) => { setTimeout(r, ms); });

export function show(root, route) {
  const state = {
    camera: route.params.get('camera') || '',
    date: route.params.get('date') || serverDay(),
    month: null,
    day: null,
    alive: true,
  };
  state.month = state.date.slice(0, 7);
  const camHolder = h('span');
  const dateInput = h('input#day', { type: 'date', value: state.date, 'aria-label': 'Day' });
  const calendar = h('div.calendar#calendar');
  const video = h('video.player#player', { controls: true, preload: 'auto' });
  const nowPlaying = h('p.now-playing#now-playing', 'Click the timeline to play from that moment; drag on it to select a range to export.');
  const segLink = h('a.button#segment-download', { hidden: true }, 'Download this segment');
  const dayBtn = h('button#day-download', { type: 'button' }, 'Download the day');
  const dayProgress = h('progress#day-progress', { max: 1, value: 0, hidden: true });
  const fromInput = h('input#range-from', { type: 'time', step: 1, 'aria-label': 'From' });
  const toInput = h('input#range-to', { type: 'time', step: 1, 'aria-label': 'To' });
  const exportBtn = h('button.primary#export', { type: 'submit' }, 'Export range');
  const exportProgress = h('progress#export-progress', { max: 1, value: 0, hidden: true });
  const exportStatus = h('span#export-status.muted');
  const dayInfo = h('p.muted#day-info');
  const motion = h('div.chips#day-events', { 'aria-label': 'Motion events of the day' });
  const timeline = new Timeline({
    onPick: (t) => playFrom(t),
    onSelect: ([a, b]) => { fromInput.value = hms(new Date(a)); toInput.value = hms(new Date(b)); },
  });
  const player = new SegmentPlayer(video, {
    onTime: (ms, seg) => {
      timeline.setPlayhead(ms);
      setText(nowPlaying, `Playing ${seg.camera_id} at ${hms(new Date(ms))}`);
      nowPlaying.dataset.time = String(ms);
      segLink.hidden = false;
      segLink.href = seg.url;
      segLink.download = `${seg.camera_id}-${seg.id}.mp4`;
    },
    onState: (text) => { if (text) setText(nowPlaying, text); },
  });

  root.append(
    h('div.page-head', h('h1', 'Recordings')),
    h('div.toolbar', h('label', 'Camera ', camHolder), h('label', 'Day ', dateInput)),
    h('div.recordings-layout',
      h('div.recordings-main',
        timeline.el, dayInfo, motion,
        h('div.player-frame', video), nowPlaying,
        h('div.controls', segLink, dayBtn, dayProgress),
        h('form.inline-form#export-form', { onsubmit: (ev) => { ev.preventDefault(); exportRange(); } },
          h('label', 'From ', fromInput), h('label', 'To ', toInput), exportBtn, exportProgress, exportStatus)),
      h('aside.recordings-side', calendar)),
  );

  /** The instant a From/To time (in the browser's zone, as the timeline shows) means on the chosen
   * day: the browser-local date of the middle of the server's day, so zones that differ by less than
   * 12 hours still pick the right date. */
  function dayAt(timeText) {
    const [hh, mm, ss] = timeText.split(':').map(Number);
    const mid = state.day ? new Date((Date.parse(state.day.start) + Date.parse(state.day.end)) / 2) : null;
    const [y, mo, d] = mid ? [mid.getFullYear(), mid.getMonth() + 1, mid.getDate()] : state.date.split('-').map(Number);
    return new Date(y, mo - 1, d, hh, mm, ss || 0);
  }

  async function playFrom(t) {
    if (!state.camera) return;
    timeline.setPlayhead(t);
    try { await player.playFrom(state.camera, t); } catch (err) { fail(err); }
  }

  async function loadDay() {
    if (!state.camera) return;
    try {
      const first = !state.day;
      state.day = await get(`/cameras/${encodeURIComponent(state.camera)}/days/${state.date}`);
      timeline.set(state.day);
      if (first && state.day.covered.length) {
        // Little footage yet: show the hour around it rather than a sliver of 24 hours.
        const covered = state.day.covered.reduce((s, c) => s + (Date.parse(c.end) - Date.parse(c.start)), 0);
        if (covered < 2 * 3600e3) timeline.zoom(3600e3);
      }
      const covered = state.day.covered.reduce((s, c) => s + (Date.parse(c.end) - Date.parse(c.start)), 0);
      const total = state.day.bytes_per_hour.reduce((a, b) => a + b, 0);
      motion.replaceChildren(...state.day.events.slice(-60).map((e) => h('button.chip', {
        type: 'button', title: `Motion, score ${(e.score * 100).toFixed(1)}%`, onclick: () => playFrom(Date.parse(e.start)),
      }, `▶ ${hms(new Date(e.start))}`)));
      setText(dayInfo, `${duration(covered / 1000)} recorded, ${bytes(total)}, ${state.day.events.length} motion events, ${state.day.gaps.length} gaps`);
    } catch (err) {
      timeline.set(null);
      setText(dayInfo, err.status === 404 ? 'Unknown camera.' : '');
      fail(err);
    }
  }

  async function loadMonth() {
    calendar.replaceChildren();
    if (!state.camera) return;
    const [y, m] = state.month.split('-').map(Number);
    let marked = new Set();
    try {
      const out = await get(`/cameras/${encodeURIComponent(state.camera)}/days`, { month: state.month });
      marked = new Set(out.days.map((d) => d.date));
    } catch (err) { fail(err); }
    const shift = (delta) => {
      const d = new Date(y, m - 1 + delta, 1);
      state.month = isoDay(d).slice(0, 7);
      loadMonth();
    };
    const title = new Date(y, m - 1, 1).toLocaleDateString(undefined, { month: 'long', year: 'numeric' });
    const cells = DAYS.map((d) => h('span.cal-head', d));
    const first = (new Date(y, m - 1, 1).getDay() + 6) % 7;
    for (let i = 0; i < first; i += 1) cells.push(h('span.cal-blank'));
    const days = new Date(y, m, 0).getDate();
    for (let d = 1; d <= days; d += 1) {
      const iso = `${state.month}-${String(d).padStart(2, '0')}`;
      const cls = ['cal-day', marked.has(iso) ? 'has-footage' : '', iso === state.date ? 'selected' : ''].filter(Boolean).join(' ');
      cells.push(h('button', { type: 'button', class: cls, dataset: { date: iso }, title: marked.has(iso) ? 'Has recordings' : 'No recordings',
        onclick: () => { state.date = iso; dateInput.value = iso; changed(); } }, String(d)));
    }
    calendar.append(h('div.cal-title', h('button.link', { type: 'button', onclick: () => shift(-1), 'aria-label': 'Previous month' }, '‹'),
      h('span', title), h('button.link', { type: 'button', onclick: () => shift(1), 'aria-label': 'Next month' }, '›')),
    h('div.cal-grid', cells));
  }

  function changed() {
    player.stop();
    state.day = null;
    segLink.hidden = true;
    timeline.setSelection(null);
    timeline.setPlayhead(null);
    state.month = state.date.slice(0, 7);
    const hash = `#/recordings?camera=${encodeURIComponent(state.camera)}&date=${state.date}`;
    if (location.hash !== hash) history.replaceState(null, '', hash);
    loadDay();
    loadMonth();
  }

  async function downloadDay() {
    if (!state.camera) return;
    const href = url(`/cameras/${encodeURIComponent(state.camera)}/days/${state.date}/video`);
    dayBtn.disabled = true;
    dayProgress.hidden = false;
    try {
      for (let i = 0; i < 900 && state.alive; i += 1) {
        const res = await fetch(href, { method: 'HEAD', credentials: 'same-origin' });
        if (res.status === 200) { download(href, `${state.camera}-${state.date}.mp4`); return; }
        if (res.status !== 202) {
          const out = await api(`/cameras/${encodeURIComponent(state.camera)}/days/${state.date}/video`, { allow: [202] });
          throw new Error(out && out.detail ? out.detail : `HTTP ${res.status}`);
        }
        const tl = await get(`/cameras/${encodeURIComponent(state.camera)}/days/${state.date}`);
        dayProgress.value = tl.video.progress;
        if (tl.video.status === 'failed') throw new Error(`the day video failed: ${tl.video.error || 'unknown error'}`);
        await sleep(2000);
      }
    } catch (err) {
      fail(err);
    } finally {
      dayBtn.disabled = false;
      dayProgress.hidden = true;
    }
  }

  async function exportRange() {
    if (!state.camera || !fromInput.value || !toInput.value) { toast('Choose a range: drag on the timeline or fill in From and To', 'error'); return; }
    const start = dayAt(fromInput.value);
    const end = dayAt(toInput.value);
    if (end <= start) { toast('"To" must be after "From"', 'error'); return; }
    exportBtn.disabled = true;
    exportProgress.hidden = false;
    exportProgress.value = 0;
    setText(exportStatus, 'queued');
    try {
      let job = await post('/exports', { camera_id: state.camera, start: start.toISOString(), end: end.toISOString() });
      while (state.alive && (job.status === 'queued' || job.status === 'running')) {
        await sleep(500);
        job = await get(`/exports/${job.id}`);
        exportProgress.value = job.progress;
        setText(exportStatus, `${job.status} ${Math.round(job.progress * 100)}%`);
      }
      if (job.status === 'done') {
        exportProgress.value = 1;
        setText(exportStatus, `done, ${bytes(job.bytes)}`);
        download(job.url, job.filename);
      } else if (job.status === 'failed') {
        throw new Error(`export failed: ${job.error || 'unknown error'}`);
      }
    } catch (err) {
      setText(exportStatus, 'failed');
      fail(err);
    } finally {
      exportBtn.disabled = false;
    }
  }

  dayBtn.addEventListener('click', downloadDay);
  dateInput.addEventListener('change', () => { if (dateInput.value) { state.date = dateInput.value; changed(); } });

  (async () => {
    try {
      const cams = await listCameras();
      if (!state.camera && cams.length) state.camera = cams[0].id;
      const sel = cameraSelect(cams, state.camera);
      sel.id = 'camera-select';
      sel.addEventListener('change', () => { state.camera = sel.value; changed(); });
      camHolder.append(sel);
      if (!cams.length) setText(dayInfo, 'No cameras yet.');
      await Promise.all([loadDay(), loadMonth()]);
      const t = route.params.get('t');
      if (t && state.alive) playFrom(Date.parse(t));
    } catch (err) { fail(err); }
  })();
  const dayTimer = setInterval(() => { if (state.date === serverDay()) loadDay(); }, 30000);
  return { leave() { state.alive = false; clearInterval(dayTimer); player.stop(); timeline.destroy(); } };
}
