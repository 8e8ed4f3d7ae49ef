// Camera helpers shared by pages: status words, the camera list, a <select> of cameras.

import { get } from './api.js';
import { ago } from './format.js';
import { h } from './dom.js';

/** {word: 'online'|'offline'|'stopped'|'disabled', text} for a camera from GET /cameras. */
export function status(cam) {
  if (!cam.enabled) return { word: 'disabled', text: 'disabled' };
  if (cam.status === 'offline') {
    const since = cam.last_seen || cam.last_heartbeat_at;
    return { word: 'offline', text: since ? `offline since ${ago(since)}` : 'offline' };
  }
  if (!cam.streaming) return { word: 'stopped', text: 'online, stopped' };
  return { word: 'online', text: 'online' };
}

export function label(cam) {
  return cam.name ? `${cam.name} (${cam.id})` : cam.id;
}

export async function listCameras() {
  return get('/cameras');
}

/** A <select> of cameras (value = id); `any` adds an "all cameras" option. */
export function cameraSelect(cams, value, { any = false, name = 'camera' } = {}) {
  const opts = cams.map((c) => h('option', { value: c.id, selected: c.id === value }, label(c)));
  if (any) opts.unshift(h('option', { value: '', selected: !value }, 'All cameras'));
  return h('select', { name, 'aria-label': 'Camera' }, opts);
}
