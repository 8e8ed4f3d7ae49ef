// Plays a camera's recordings from any moment, moving from segment to segment without a reload.

import { get } from './api.js';

const BATCH = 200;
const WINDOW_MS = 30 * 60 * 1000;

export class SegmentPlayer {
  /** onTime(ms, segment) while playing; onState(text) for messages. */
  constructor(video, { onTime = () => {}, onState = () => {} } = {}) {
    this.video = video;
    this.onTime = onTime;
    this.onState = onState;
    this.camera = null;
    this.items = [];
    this.index = -1;
    this.pendingSeek = null;
    this.token = 0;
    video.muted = true;
    video.playsInline = true;
    video.addEventListener('loadedmetadata', () => {
      if (this.pendingSeek !== null) {
        const dur = Number.isFinite(video.duration) ? video.duration : this.pendingSeek;
        video.currentTime = Math.min(this.pendingSeek, Math.max(0, dur - 0.05));
        this.pendingSeek = null;
      }
      this.play();
    });
    video.addEventListener('timeupdate', () => {
      const seg = this.items[this.index];
      if (seg) this.onTime(Date.parse(seg.start) + video.currentTime * 1000, seg);
    });
    video.addEventListener('ended', () => this.next());
    video.addEventListener('error', () => {
      if (this.index >= 0) this.onState('This segment could not be played; skipping to the next one.');
      this.next();
    });
  }

  get segment() { return this.items[this.index] || null; }

  play() {
    const p = this.video.play();
    if (p && p.catch) p.catch(() => {});
  }

  stop() {
    this.token += 1;
    this.video.pause();
    this.video.removeAttribute('src');
    this.video.load();
    this.items = [];
    this.index = -1;
  }

  async fetchFrom(ms) {
    const page = await get('/recordings', {
      camera_id: this.camera, start: new Date(ms).toISOString(), end: new Date(ms + WINDOW_MS).toISOString(),
      order: 'asc', limit: BATCH,
    });
    if (page.items.length) return page.items;
    const later = await get('/recordings', { camera_id: this.camera, start: new Date(ms).toISOString(), order: 'asc', limit: BATCH });
    return later.items;
  }

  /** Play `camera` from the instant `ms` (or the next footage after it). */
  async playFrom(camera, ms) {
    const token = ++this.token;
    this.camera = camera;
    const items = await this.fetchFrom(ms);
    if (token !== this.token) return false;
    if (!items.length) { this.onState('No recordings at or after that moment.'); return false; }
    this.items = items;
    const i = Math.max(0, items.findIndex((s) => Date.parse(s.end) > ms));
    const offset = Math.max(0, (ms - Date.parse(items[i].start)) / 1000);
    if (offset === 0 && Date.parse(items[i].start) > ms + 1000) this.onState('No footage at that moment: playing the next recording.');
    else this.onState('');
    this.load(i, offset);
    return true;
  }

  load(i, offset) {
    this.index = i;
    this.pendingSeek = offset;
    this.video.src = this.items[i].url;
  }

  async next() {
    if (this.index < 0) return;
    if (this.index + 1 < this.items.length) { this.load(this.index + 1, 0); return; }
    const last = this.items[this.items.length - 1];
    const token = this.token;
    try {
      const more = (await this.fetchFrom(Date.parse(last.end))).filter((s) => Date.parse(s.start) >= Date.parse(last.end) - 1 && s.id !== last.id);
      if (token !== this.token) return;
      if (more.length) { this.items = more; this.load(0, 0); } else this.onState('End of the recordings.');
    } catch (err) {
      this.onState(`Could not load the next recording: ${err.message}`);
    }
  }
}
