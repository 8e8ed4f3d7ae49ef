// The recording-stalled banner: shown on every page while /health's recording watchdog reports
// streaming cameras whose frames are not being recorded (see docs/operations.md).

import { api } from './api.js';
import { clear, h, setText } from './dom.js';

const POLL_MS = 5000;
const NAMES_MAX_AGE_MS = 60000;
const REASONS = {
  disk_full: 'the recordings disk is full',
  recorder_crash_looping: 'the recorder keeps crashing',
  recorder_hung: 'the recorder is not responding',
  recorder_down: 'the recorder is not running',
  queue_backed_up: 'the recorder cannot keep up',
  recorder_behind: 'the recorder is behind',
};

let timer = null;
let names = { at: 0, byId: new Map() };

async function cameraNames() {
  if (Date.now() - names.at < NAMES_MAX_AGE_MS) return names.byId;
  try {
    const cams = await api('/cameras', { quiet401: true });
    names = { at: Date.now(), byId: new Map(cams.map((c) => [c.id, c.name || c.id])) };
  } catch (e) { /* ids will do */ }
  return names.byId;
}

function render(el, recording, byId) {
  const stalled = recording && recording.status === 'stalled' ? recording.stalled : [];
  if (!stalled.length) { el.hidden = true; clear(el); return; }
  const who = stalled.map((c) => byId.get(c.camera_id) || c.camera_id).join(', ');
  const lag = Math.max(...stalled.map((c) => c.lag_s));
  clear(el);
  el.append(
    h('strong', 'Recording stalled'),
    ` on ${who}: ${REASONS[recording.reason] || recording.reason} (${Math.round(lag)} s behind). `,
    h('span.muted', recording.detail || ''),
  );
  el.dataset.reason = recording.reason || '';
  el.hidden = false;
}

async function poll(el, signedIn) {
  if (!signedIn()) return;
  try {
    const health = await api('/health', { quiet401: true });
    const recording = health && health.recording;
    render(el, recording, recording && recording.status === 'stalled' ? await cameraNames() : new Map());
  } catch (e) {
    setText(el, '');
    el.hidden = true; // the server is unreachable: other pages say so
  }
}

/** Poll while signedIn() is true; the banner is the element #stall-banner. */
export function startBanner(signedIn) {
  const el = document.getElementById('stall-banner');
  if (!el || timer) return;
  poll(el, signedIn);
  timer = setInterval(() => poll(el, signedIn), POLL_MS);
}

export function hideBanner() {
  const el = document.getElementById('stall-banner');
  if (el) { el.hidden = true; clear(el); }
}
