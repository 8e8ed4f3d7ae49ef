// The live wall: every camera as a tile. Tiles show snapshots fetched through a small pool
// (at most 3 requests at once, about 1 frame per second per visible tile, nothing while the
// tab is hidden), so 16+ cameras stay live within the browser's 6 connections per host.
// A JPEG camera's tile shows its newest frame (snapshot.jpg); an H.264 camera's tile shows the
// recorder's newest periodic snapshot (a keyframe, every VIGIL_SNAPSHOT_INTERVAL_S), polled
// every few seconds: 16 Media Source players would decode 16 streams for thumbnails.
// The one enlarged camera (its own page) plays the MJPEG stream or live.mp4.

import { url } from '../api.js';
import { fail } from '../ui.js';
import { listCameras, status } from '../cameras.js';
import { h, setText } from '../dom.js';

const POOL = 3;
const PERIOD_MS = 1000;
const H264_PERIOD_MS = 2500; // how often an H.264 tile asks for a newer snapshot
const RETRY_MS = 5000;
const LIST_EVERY_MS = 5000;

class SnapshotPool {
  constructor() {
    this.tiles = new Map(); // id -> {img, visible, due, busy, url, onFrame}
    this.running = 0;
    this.stopped = false;
    this.timer = setInterval(() => this.pump(), 200);
    this.onVisibility = () => this.pump();
    document.addEventListener('visibilitychange', this.onVisibility);
    this.observer = new IntersectionObserver((entries) => {
      for (const e of entries) {
        const t = this.tiles.get(e.target.dataset.camera);
        if (t) t.visible = e.isIntersecting;
      }
      this.pump();
    });
  }

  add(id, el, img, onFrame) {
    const tile = { id, el, img, visible: false, due: 0, busy: false, url: null, onFrame, live: true, h264: false,
      shown: null };
    this.tiles.set(id, tile);
    this.observer.observe(el);
  }

  setLive(id, live, h264 = false) {
    const t = this.tiles.get(id);
    if (!t) return;
    t.live = live;
    if (t.h264 !== h264) { t.h264 = h264; t.shown = null; t.due = 0; }
  }

  remove(id) {
    const t = this.tiles.get(id);
    if (!t) return;
    this.observer.unobserve(t.el);
    if (t.url) URL.revokeObjectURL(t.url);
    this.tiles.delete(id);
  }

  stop() {
    this.stopped = true;
    clearInterval(this.timer);
    document.removeEventListener('visibilitychange', this.onVisibility);
    this.observer.disconnect();
    for (const id of [...this.tiles.keys()]) this.remove(id);
  }

  pump() {
    if (this.stopped || document.hidden) return;
    const now = performance.now();
    const ready = [...this.tiles.values()]
      .filter((t) => t.visible && t.live && !t.busy && t.due <= now)
      .sort((a, b) => a.due - b.due);
    while (this.running < POOL && ready.length) this.fetch(ready.shift());
  }

  async fetch(tile) {
    tile.busy = true;
    this.running += 1;
    const started = performance.now();
    try {
      const h264 = tile.h264;
      let res;
      let source = null;
      if (h264) {
        // The newest periodic snapshot; its image only when it is a new one (files never change).
        const list = await fetch(url(`/cameras/${encodeURIComponent(tile.id)}/snapshots`, { order: 'desc', limit: 1 }),
          { credentials: 'same-origin', cache: 'no-store', headers: { Accept: 'application/json' } });
        const items = list.ok ? (await list.json()).items : [];
        source = items.length ? items[0].url : null;
        if (source && source === tile.shown) { tile.due = started + H264_PERIOD_MS; return; }
        if (!source) { tile.onFrame(false); tile.due = performance.now() + RETRY_MS; return; }
        res = await fetch(source, { credentials: 'same-origin' });
      } else {
        res = await fetch(url(`/cameras/${encodeURIComponent(tile.id)}/snapshot.jpg`), { credentials: 'same-origin', cache: 'no-store' });
      }
      if (res.ok) {
        const blob = await res.blob();
        if (!this.stopped && this.tiles.get(tile.id) === tile) {
          const old = tile.url;
          tile.url = URL.createObjectURL(blob);
          tile.img.src = tile.url;
          if (old) URL.revokeObjectURL(old);
          tile.shown = source;
          tile.onFrame(true);
        }
        tile.due = started + (h264 ? H264_PERIOD_MS : PERIOD_MS);
      } else {
        tile.onFrame(false);
        tile.due = performance.now() + RETRY_MS;
      }
    } catch (err) {
      tile.due = performance.now() + RETRY_MS;
    } finally {
      tile.busy = false;
      this.running -= 1;
      this.pump();
    }
  }
}

export function show(root) {
  const grid = h('div.wall#wall', { 'aria-live': 'off' });
  const summary = h('p.muted#wall-summary');
  const empty = h('p.muted', { hidden: true }, 'No cameras yet. A camera appears here when it sends its first heartbeat.');
  root.append(h('div.page-head', h('h1', 'Live'), summary), empty, grid);
  const pool = new SnapshotPool();
  const tiles = new Map(); // id -> {el, refs}
  let timer = null;

  function tile(cam) {
    const img = h('img.tile-img', { alt: `Live picture of ${cam.name || cam.id}` });
    const noPicture = h('div.tile-empty', 'No picture');
    const name = h('span.tile-name');
    const where = h('span.tile-location');
    const badge = h('span.badge');
    const fps = h('span.tile-fps');
    const el = h('a.tile', { href: `#/camera/${encodeURIComponent(cam.id)}`, dataset: { camera: cam.id } },
      h('div.tile-frame', img, noPicture),
      h('div.tile-info', h('div.tile-title', name, badge), h('div.tile-meta', where, fps)));
    const refs = { img, noPicture, name, where, badge, fps, frames: 0 };
    pool.add(cam.id, el, img, (ok) => {
      noPicture.hidden = ok;
      if (ok) {
        refs.frames += 1;
        el.dataset.frames = String(refs.frames);
      }
    });
    tiles.set(cam.id, { el, refs });
    return el;
  }

  function update(cams) {
    const seen = new Set();
    for (const cam of cams) {
      seen.add(cam.id);
      let t = tiles.get(cam.id);
      if (!t) {
        grid.append(tile(cam));
        t = tiles.get(cam.id);
      }
      const st = status(cam);
      setText(t.refs.name, cam.name || cam.id);
      setText(t.refs.where, cam.location || '');
      setText(t.refs.badge, st.text);
      t.refs.badge.className = `badge ${st.word}`;
      setText(t.refs.fps, st.word === 'online' ? `${cam.fps.toFixed(1)} fps` : '');
      t.el.dataset.status = st.word;
      pool.setLive(cam.id, cam.enabled, cam.codec === 'h264');
    }
    for (const [id, t] of tiles) {
      if (!seen.has(id)) { pool.remove(id); t.el.remove(); tiles.delete(id); }
    }
    const online = cams.filter((c) => status(c).word === 'online').length;
    setText(summary, `${cams.length} camera${cams.length === 1 ? '' : 's'}, ${online} streaming`);
    empty.hidden = cams.length > 0;
  }

  async function refresh() {
    try {
      update(await listCameras());
    } catch (err) {
      fail(err);
    }
  }
  refresh();
  timer = setInterval(refresh, LIST_EVERY_MS);
  return { leave() { clearInterval(timer); pool.stop(); } };
}
