// One camera: the big live view, start/stop, configure, snapshot, heartbeat, today.
// The live view is the MJPEG stream for a JPEG camera, and live.mp4 through Media Source
// Extensions for an H.264 camera (liveplayer.js); where MSE cannot play it, the recorder's
// newest periodic snapshot, refreshed every few seconds.

import { get, post, url } from '../api.js';
import { session } from '../session.js';
import { fail, toast } from '../ui.js';
import { status } from '../cameras.js';
import { h, setText } from '../dom.js';
import { ago, dateTime, serverDay } from '../format.js';
import { Timeline } from '../timeline.js';
import { LivePlayer, newestSnapshotUrl } from '../liveplayer.js';
import { ZoneEditor } from '../zones.js';

const REFRESH_MS = 2000;
const SNAPSHOT_MS = 3000;

export function show(root, route) {
  const id = route.args[0] || '';
  const title = h('h1');
  const badge = h('span.badge');
  const live = h('img.live-img#live-img', { alt: 'Live view' });
  const video = h('video.live-img#live-video', { muted: true, autoplay: true, playsInline: true, hidden: true,
    'aria-label': 'Live view' });
  video.muted = true; // (the attribute alone does not mute a script-created element)
  const liveNote = h('p.muted', { hidden: true });
  const details = h('dl.details#heartbeat');
  const startBtn = h('button.primary#start', { type: 'button', onclick: () => command('start') }, 'Start streaming');
  const stopBtn = h('button#stop', { type: 'button', onclick: () => command('stop') }, 'Stop streaming');
  const snapLink = h('a.button#snapshot', { href: url(`/cameras/${encodeURIComponent(id)}/snapshot.jpg`), download: `${id}-snapshot.jpg` }, 'Save snapshot');
  const fps = h('input', { name: 'fps', type: 'number', min: '0.1', max: '120', step: '0.1', inputmode: 'decimal' });
  const size = h('select', { name: 'size' }, ['', '320x240', '640x360', '640x480', '1280x720', '1920x1080'].map((v) => h('option', { value: v }, v || 'unchanged')));
  const quality = h('input', { name: 'quality', type: 'number', min: '1', max: '100', placeholder: '1–100' });
  const configure = h('form.inline-form#configure', { onsubmit: async (ev) => {
    ev.preventDefault();
    const params = {};
    if (fps.value) params.fps = Number(fps.value);
    if (size.value) { const [w, hh] = size.value.split('x'); params.width = Number(w); params.height = Number(hh); }
    if (quality.value) params.quality = Number(quality.value);
    if (!Object.keys(params).length) { toast('Change at least one setting', 'error'); return; }
    try {
      await post(`/cameras/${encodeURIComponent(id)}/commands`, { action: 'configure', params });
      toast('Settings sent to the camera');
    } catch (err) { fail(err); }
  } },
  h('label', 'Frames per second', fps), h('label', 'Size', size), h('label', 'JPEG quality', quality),
  h('button', { type: 'submit' }, 'Apply'));
  const today = serverDay();
  const timeline = new Timeline({
    onPick: (t) => { location.hash = `#/recordings?camera=${encodeURIComponent(id)}&date=${today}&t=${encodeURIComponent(new Date(t).toISOString())}`; },
  });
  const controls = h('div.controls', startBtn, stopBtn, snapLink);
  const liveFrame = h('div.live-frame', live, video);
  const zones = session.isAdmin ? new ZoneEditor(liveFrame, id) : null;
  root.append(
    h('div.page-head', h('a.back', { href: '#/live' }, '← Live'), title, badge),
    h('div.camera-layout',
      h('div.camera-main', liveFrame, liveNote, controls,
        h('h2', 'Today'), timeline.el,
        h('p', h('a', { href: `#/recordings?camera=${encodeURIComponent(id)}&date=${today}` }, 'Open recordings'))),
      h('aside.camera-side', h('h2', 'Heartbeat'), details,
        session.isAdmin ? [h('h2', 'Camera settings'), configure, h('h2', 'Object zones'), zones.el] : null)),
  );
  let cam = null;
  let timer = null;
  // What the live view shows: null (nothing), 'mjpeg', 'mp4' (MSE) or 'snapshots'.
  let liveMode = null;
  let player = null;
  let snapTimer = null;
  let snapUrl = null;
  let fallbackWhy = '';

  async function showSnapshot() {
    try {
      const next = await newestSnapshotUrl(id);
      if (liveMode !== 'snapshots') return;
      if (next && next !== snapUrl) { snapUrl = next; live.src = next; }
      if (!next) live.removeAttribute('src');
      setText(liveNote, next ? `${fallbackWhy} Showing the newest snapshot.` : `${fallbackWhy} No snapshot yet.`);
      liveNote.hidden = false;
    } catch (err) { /* the next round tries again */ }
  }

  function setLive(mode) {
    if (mode === liveMode) return;
    if (liveMode === 'mjpeg') live.removeAttribute('src');
    if (liveMode === 'mp4') { player.stop(); player = null; }
    if (liveMode === 'snapshots') { clearInterval(snapTimer); snapTimer = null; snapUrl = null; live.removeAttribute('src'); }
    liveMode = mode;
    video.hidden = mode !== 'mp4';
    live.hidden = mode === 'mp4';
    if (mode === 'mjpeg') live.src = url(`/cameras/${encodeURIComponent(id)}/live.mjpeg`);
    if (mode === 'mp4') {
      player = new LivePlayer(video, id, { onState: (state, detail) => {
        video.parentElement.dataset.live = state;
        if (state === 'fallback') { fallbackWhy = `${detail}.`; setLive('snapshots'); }
        // 409: the camera switched codec; the next refresh picks the other view.
        if (state === 'refused') setTimeout(refresh, 500);
      } });
      player.start();
    }
    if (mode === 'snapshots') { showSnapshot(); snapTimer = setInterval(showSnapshot, SNAPSHOT_MS); }
  }

  function row(label, value) { return [h('dt', label), h('dd', value === null || value === undefined || value === '' ? '—' : String(value))]; }

  function render() {
    const st = status(cam);
    setText(title, cam.name || cam.id);
    setText(badge, st.text);
    badge.className = `badge ${st.word}`;
    badge.id = 'camera-status';
    badge.dataset.status = st.word;
    stopBtn.hidden = !session.isAdmin;
    fps.placeholder = `now ${cam.fps_target}`;
    startBtn.disabled = st.word === 'online';
    stopBtn.disabled = st.word !== 'online';
    const h264 = cam.codec === 'h264';
    const online = st.word === 'online';
    if (!online) setLive(null);
    else if (!h264) setLive('mjpeg');
    else if (liveMode !== 'snapshots') setLive('mp4');
    if (liveMode !== 'snapshots') {
      liveNote.hidden = online;
      setText(liveNote, online ? '' : `No live picture: the camera is ${st.text}.`);
    }
    details.replaceChildren(...[
      row('Id', cam.id), row('Location', cam.location), row('Status', st.text),
      row('Frames per second', `${cam.fps.toFixed(1)} (target ${cam.fps_target})`),
      row('Size', cam.width ? `${cam.width}×${cam.height}` : ''), row('Codec', cam.codec), row('Source', cam.source),
      row('Frames sent', cam.frames_sent), row('Frames dropped', cam.frames_dropped),
      row('Last heartbeat', cam.last_heartbeat_at ? `${ago(cam.last_heartbeat_at)} (${dateTime(cam.last_heartbeat_at)})` : ''),
      row('Last frame', ago(cam.last_seen)), row('First seen', dateTime(cam.first_seen)),
      row('Recording', cam.record_mode), row('Version', cam.version),
    ].flat());
  }

  async function command(action) {
    try {
      await post(`/cameras/${encodeURIComponent(id)}/commands`, { action });
      toast(action === 'start' ? 'Start sent; the camera follows within seconds' : 'Stop sent; the camera follows within seconds');
      setTimeout(refresh, 700);
    } catch (err) { fail(err); }
  }

  async function refresh() {
    try {
      cam = await get(`/cameras/${encodeURIComponent(id)}`);
      render();
      if (zones) { zones.set(cam.object_zones); zones.fit(cam.width, cam.height); }
    } catch (err) { fail(err); }
  }

  async function loadDay() {
    try {
      const first = !timeline.data;
      const day = await get(`/cameras/${encodeURIComponent(id)}/days/${today}`);
      timeline.set(day);
      timeline.setPlayhead(Date.now());
      const covered = day.covered.reduce((s, c) => s + (Date.parse(c.end) - Date.parse(c.start)), 0);
      if (first && day.covered.length && covered < 2 * 3600e3) timeline.zoom(3600e3);
    } catch (err) { if (err.status !== 404) fail(err); }
  }

  refresh();
  loadDay();
  timer = setInterval(refresh, REFRESH_MS);
  const dayTimer = setInterval(loadDay, 30000);
  return {
    leave() {
      clearInterval(timer);
      clearInterval(dayTimer);
      setLive(null);
      timeline.destroy();
    },
  };
}
