// One camera: the big live view (MJPEG), start/stop, configure, snapshot, heartbeat, today.

import { get, post, url } from '../api.js';
import { session } from '../session.js';
import { fail, toast } from '../ui.js';
import { status } from '../cameras.js';
import { h, setText } from '../dom.js';
import { ago, dateTime, serverDay } from '../format.js';
import { Timeline } from '../timeline.js';

const REFRESH_MS = 2000;

export function show(root, route) {
  const id = route.args[0] || '';
  const title = h('h1');
  const badge = h('span.badge');
  const live = h('img.live-img#live-img', { alt: 'Live view' });
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
  root.append(
    h('div.page-head', h('a.back', { href: '#/live' }, '← Live'), title, badge),
    h('div.camera-layout',
      h('div.camera-main', h('div.live-frame', live), liveNote, controls,
        h('h2', 'Today'), timeline.el,
        h('p', h('a', { href: `#/recordings?camera=${encodeURIComponent(id)}&date=${today}` }, 'Open recordings'))),
      h('aside.camera-side', h('h2', 'Heartbeat'), details,
        session.isAdmin ? [h('h2', 'Camera settings'), configure] : null)),
  );
  let cam = null;
  let timer = null;
  let liveOn = false;

  function setLive(on) {
    if (on === liveOn) return;
    liveOn = on;
    if (on) live.src = url(`/cameras/${encodeURIComponent(id)}/live.mjpeg`);
    else live.removeAttribute('src');
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
    const jpeg = cam.codec !== 'h264';
    setLive(jpeg && st.word === 'online');
    liveNote.hidden = jpeg && st.word === 'online';
    setText(liveNote, !jpeg ? 'This camera sends H.264: no live JPEG view; its recordings play in Recordings.'
      : st.word === 'online' ? '' : `No live picture: the camera is ${st.text}.`);
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
      setLive(false);
      timeline.destroy();
    },
  };
}
