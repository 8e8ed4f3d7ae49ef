// Live H.264 in a <video> through Media Source Extensions.
//
// GET /cameras/{id}/live.mp4 is fragmented MP4: an init segment (ftyp + moov), then one
// moof + mdat per frame from the newest keyframe on. The body is read with fetch() as it
// arrives; the codec string (avc1.PPCCLL) comes from the init segment's avcC, and every byte
// after it is appended to one SourceBuffer, in order. The player keeps near the live edge (it
// jumps when more than LAG_S behind, and plays slightly fast when a little behind), trims what
// lies behind the playhead, and reconnects with backoff when the body ends (the camera changed
// size: the server ends the stream so a new init segment can start) or fails. Where MSE or the
// stream's codec is unsupported it reports `fallback` and the page shows snapshots instead.

import { get, url } from './api.js';

const LAG_S = 1.5; // further behind the newest frame than this: jump
const TARGET_S = 0.2; // where a jump lands, behind the newest frame (a little slack against stalls)
const CATCH_UP_S = 0.4; // further behind than this: play 10 % fast until back near TARGET_S
const KEEP_S = 8; // what is kept behind the playhead
const BACKOFF_MS = [250, 500, 1000, 2000, 4000, 8000, 10000];
const TEST_CODEC = 'avc1.42E01E';
const REFUSED_RETRY_MS = 5000;

function mediaSourceClass() {
  return window.ManagedMediaSource || window.MediaSource || null;
}

/** True if this browser can play H.264 through Media Source Extensions at all. */
export function mseSupported(codec = TEST_CODEC) {
  const MS = mediaSourceClass();
  return !!MS && typeof MS.isTypeSupported === 'function' && MS.isTypeSupported(`video/mp4; codecs="${codec}"`);
}

function concat(a, b) {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

function u32(bytes, at) {
  return ((bytes[at] << 24) >>> 0) + (bytes[at + 1] << 16) + (bytes[at + 2] << 8) + bytes[at + 3];
}

function fourcc(bytes, at) {
  return String.fromCharCode(bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]);
}

/**
 * The init segment at the start of `bytes`: {length, codec} once ftyp and moov are complete,
 * null while more bytes are needed. Throws on something that is not an init segment.
 */
export function parseInit(bytes) {
  let pos = 0;
  while (pos + 8 <= bytes.length) {
    const size = u32(bytes, pos);
    const type = fourcc(bytes, pos + 4);
    if (size < 8) throw new Error('bad MP4 box');
    if (pos + size > bytes.length) return null;
    if (type === 'moov') {
      const moov = bytes.subarray(pos, pos + size);
      for (let i = 8; i + 8 <= moov.length; i += 1) {
        if (moov[i] === 0x61 && fourcc(moov, i) === 'avcC') { // 'avcC' + version, profile, flags, level
          const hex = (b) => b.toString(16).padStart(2, '0');
          return { length: pos + size, codec: `avc1.${hex(moov[i + 5])}${hex(moov[i + 6])}${hex(moov[i + 7])}` };
        }
      }
      throw new Error('no avcC in the init segment');
    }
    if (type !== 'ftyp') throw new Error(`unexpected ${type} before the init segment`);
    pos += size;
  }
  return null;
}

/** The URL of the camera's newest periodic snapshot (the recorder's), or null. */
export async function newestSnapshotUrl(id) {
  const page = await get(`/cameras/${encodeURIComponent(id)}/snapshots`, { order: 'desc', limit: 1 });
  return page.items.length ? page.items[0].url : null;
}

export class LivePlayer {
  /**
   * video: the <video> element. onState(state, detail): 'connecting' | 'playing' | 'retrying' |
   * 'fallback' (MSE or the codec unsupported) | 'refused' (the server answered 4xx: 409 when
   * the camera sends JPEG now, 404, 401).
   */
  constructor(video, cameraId, { onState = () => {} } = {}) {
    this.video = video;
    this.src = url(`/cameras/${encodeURIComponent(cameraId)}/live.mp4`);
    this.onState = onState;
    this.attempt = 0;
    this.stopped = true;
    this.conn = null;
    this.retryTimer = null;
    this.tick = null;
    this.codec = null;
  }

  start() {
    if (!this.stopped) return;
    this.stopped = false;
    if (!mseSupported()) { this.state('fallback', 'no Media Source Extensions for H.264 in this browser'); return; }
    this.tick = setInterval(() => this.followEdge(), 250);
    this.connect();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    clearInterval(this.tick);
    this.teardown();
  }

  state(name, detail = '') {
    this.video.dataset.state = name;
    this.onState(name, detail);
  }

  teardown() {
    const c = this.conn;
    this.conn = null;
    if (!c) return;
    c.abort.abort();
    if (c.objectUrl) URL.revokeObjectURL(c.objectUrl);
    this.video.removeAttribute('src');
    this.video.load();
  }

  retry(why) {
    this.teardown();
    if (this.stopped) return;
    const delay = BACKOFF_MS[Math.min(this.attempt, BACKOFF_MS.length - 1)];
    this.attempt += 1;
    this.state('retrying', why);
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  connect() {
    if (this.stopped) return;
    const MS = mediaSourceClass();
    const ms = new MS();
    const c = { ms, sb: null, queue: [], abort: new AbortController(), objectUrl: null, pending: new Uint8Array(0) };
    this.conn = c;
    this.state('connecting');
    if (window.ManagedMediaSource && MS === window.ManagedMediaSource) this.video.disableRemotePlayback = true;
    c.objectUrl = URL.createObjectURL(ms);
    this.video.src = c.objectUrl;
    ms.addEventListener('sourceopen', () => this.read(c), { once: true });
  }

  async read(c) {
    let res;
    try {
      res = await fetch(this.src, { credentials: 'same-origin', cache: 'no-store', signal: c.abort.signal });
    } catch (err) {
      if (this.conn === c) this.retry('network error');
      return;
    }
    if (this.conn !== c) return;
    if (!res.ok) {
      let detail = `HTTP ${res.status}`;
      try { detail = (await res.json()).detail || detail; } catch (err) { /* not JSON */ }
      if (res.status === 503 || res.status >= 500) this.retry(detail);
      else {
        this.teardown();
        this.state('refused', detail);
        // 409: the camera sends JPEG right now; it may come back to H.264.
        if (res.status === 409 && !this.stopped) this.retryTimer = setTimeout(() => this.connect(), REFUSED_RETRY_MS);
      }
      return;
    }
    const reader = res.body.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (this.conn !== c) return;
        if (done) break;
        this.take(c, value);
      }
    } catch (err) {
      if (this.conn !== c) return;
      if (err && err.name === 'NotSupportedError') return; // fallback reported already
      this.retry('stream interrupted');
      return;
    }
    // The server ended the body: a new size or codec; a fresh connection gets the new init.
    this.retry('stream ended');
  }

  take(c, chunk) {
    if (!c.sb) {
      c.pending = concat(c.pending, chunk);
      const init = parseInit(c.pending);
      if (!init) return;
      const MS = mediaSourceClass();
      const type = `video/mp4; codecs="${init.codec}"`;
      if (!MS.isTypeSupported(type)) {
        this.teardown();
        this.stopped = true;
        clearInterval(this.tick);
        this.state('fallback', `this browser cannot play ${init.codec}`);
        const err = new Error('unsupported codec');
        err.name = 'NotSupportedError';
        throw err;
      }
      this.codec = init.codec;
      c.sb = c.ms.addSourceBuffer(type);
      c.sb.mode = 'segments';
      c.sb.addEventListener('updateend', () => this.pump(c));
      c.sb.addEventListener('error', () => { if (this.conn === c) this.retry('decode error'); });
      c.queue.push(c.pending);
      c.pending = null;
      this.attempt = 0;
    } else {
      c.queue.push(chunk);
    }
    this.pump(c);
  }

  pump(c) {
    if (this.conn !== c || !c.sb || c.sb.updating) return;
    const v = this.video;
    const b = c.sb.buffered;
    if (b.length && v.currentTime - b.start(0) > KEEP_S * 2) {
      c.sb.remove(0, v.currentTime - KEEP_S); // updateend pumps again
      return;
    }
    if (!c.queue.length) { this.followEdge(); return; }
    const data = c.queue.length === 1 ? c.queue[0] : c.queue.reduce(concat);
    c.queue = [];
    try {
      c.sb.appendBuffer(data);
    } catch (err) {
      if (err && err.name === 'QuotaExceededError' && b.length) {
        c.queue.unshift(data);
        c.sb.remove(0, Math.max(b.start(0) + 1, v.currentTime - 1));
      } else {
        this.retry('append failed');
      }
    }
  }

  /** Keep the playhead near the newest frame. */
  followEdge() {
    const c = this.conn;
    if (!c || !c.sb) return;
    const v = this.video;
    const b = c.sb.buffered;
    if (!b.length) return;
    const end = b.end(b.length - 1);
    const start = b.start(b.length - 1);
    const lag = end - v.currentTime;
    if (v.currentTime < start || lag > LAG_S) {
      v.currentTime = Math.max(start, end - TARGET_S);
    } else if (lag > CATCH_UP_S) {
      v.playbackRate = 1.1;
    } else if (lag < TARGET_S + 0.05) {
      v.playbackRate = 1;
    }
    if (v.paused) {
      const p = v.play();
      if (p && p.catch) p.catch(() => {});
    }
    if (v.readyState >= 2 && v.dataset.state !== 'playing') this.state('playing', this.codec);
  }
}
