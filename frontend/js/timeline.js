// A day timeline on a canvas: covered time, gaps (by reason), motion events, object events
// (coloured by label: people, vehicles, animals, others), a playhead and a
// selected range. Click = pick a moment; drag = select a range.

import { h } from './dom.js';
import { hms } from './format.js';

const ZOOMS = [['24 h', 0], ['6 h', 6 * 3600e3], ['1 h', 3600e3], ['10 min', 600e3]];
const STEPS = [60e3, 5 * 60e3, 10 * 60e3, 30 * 60e3, 3600e3, 2 * 3600e3, 3 * 3600e3, 6 * 3600e3];

const COLORS = {
  covered: '#2da44e',
  gap: '#d0d7de',
  lost: '#cf222e',
  event: '#fb8500',
  playhead: '#0969da',
  selection: 'rgba(9, 105, 218, 0.25)',
  text: '#57606a',
};
// Object events by what was seen (COCO's names; a user's model's other labels are "other").
const OBJECT_COLORS = { person: '#8250df', vehicle: '#0550ae', animal: '#9a6700', other: '#6e7781' };
const VEHICLES = new Set(['bicycle', 'car', 'motorbike', 'motorcycle', 'bus', 'truck', 'train', 'boat', 'aeroplane', 'airplane']);
const ANIMALS = new Set(['bird', 'cat', 'dog', 'horse', 'sheep', 'cow', 'elephant', 'bear', 'zebra', 'giraffe']);

export function objectColor(label) {
  if (label === 'person') return OBJECT_COLORS.person;
  if (VEHICLES.has(label)) return OBJECT_COLORS.vehicle;
  if (ANIMALS.has(label)) return OBJECT_COLORS.animal;
  return OBJECT_COLORS.other;
}

export class Timeline {
  constructor({ onPick = () => {}, onSelect = () => {} } = {}) {
    this.onPick = onPick;
    this.onSelect = onSelect;
    this.data = null;
    this.playhead = null;
    this.selection = null;
    this.span = null; // visible milliseconds (null = the whole day)
    this.center = null;
    this.zoomButtons = ZOOMS.map(([label, ms]) => h('button.zoom', { type: 'button', dataset: { span: String(ms) },
      'aria-pressed': ms === 0 ? 'true' : 'false', onclick: () => this.zoom(ms) }, label));
    this.controls = h('div.timeline-controls',
      h('button.pan', { type: 'button', 'aria-label': 'Earlier', onclick: () => this.pan(-0.5) }, '‹'),
      this.zoomButtons,
      h('button.pan', { type: 'button', 'aria-label': 'Later', onclick: () => this.pan(0.5) }, '›'));
    this.canvas = h('canvas.timeline-canvas', { 'aria-label': 'Timeline of the day: click to play from that moment, drag to select a range', role: 'img' });
    this.hover = h('div.timeline-hover', { hidden: true });
    this.el = h('div.timeline-box', this.controls, h('div.timeline', this.canvas, this.hover));
    this.resize = new ResizeObserver(() => this.draw());
    this.resize.observe(this.el);
    this.bindPointer();
  }

  destroy() { this.resize.disconnect(); }

  /** data: {start, end, covered: [{start, end}], gaps: [{start, end, reason}], events: [{start, end}],
   *  objects: [{start, end, label}]} */
  set(data) {
    this.data = data && {
      t0: Date.parse(data.start),
      t1: Date.parse(data.end),
      covered: (data.covered || []).map((c) => [Date.parse(c.start), Date.parse(c.end)]),
      gaps: (data.gaps || []).map((g) => [Date.parse(g.start), Date.parse(g.end), g.reason]),
      events: (data.events || []).map((e) => [Date.parse(e.start), e.end ? Date.parse(e.end) : Date.now()]),
      objects: (data.objects || []).map((o) => [Date.parse(o.start), o.end ? Date.parse(o.end) : Date.now(), o.label]),
    };
    this.draw();
  }

  setPlayhead(ms) { this.playhead = ms; this.draw(); }

  /** The visible window [v0, v1] (a zoomed part of the day, or all of it). */
  view() {
    const { t0, t1 } = this.data;
    if (!this.span || this.span >= t1 - t0) return [t0, t1];
    const c = this.center ?? t0;
    const v0 = Math.min(Math.max(t0, c - this.span / 2), t1 - this.span);
    return [v0, v0 + this.span];
  }

  /** Show `ms` of the day around the playhead (or the selection, or the newest footage). */
  zoom(ms) {
    this.span = ms || null;
    if (this.data) {
      const last = this.data.covered.length ? this.data.covered[this.data.covered.length - 1][1] : null;
      this.center = this.playhead ?? (this.selection ? (this.selection[0] + this.selection[1]) / 2 : null) ?? last ?? Date.now();
    }
    for (const b of this.zoomButtons) b.setAttribute('aria-pressed', String(Number(b.dataset.span) === ms));
    this.draw();
  }

  pan(fraction) {
    if (!this.data || !this.span) return;
    const [v0, v1] = this.view();
    this.center = (v0 + v1) / 2 + fraction * this.span;
    this.center = (this.view()[0] + this.view()[1]) / 2;
    this.draw();
  }
  setSelection(range) { this.selection = range; this.draw(); }

  timeAt(clientX) {
    const rect = this.canvas.getBoundingClientRect();
    const f = Math.min(1, Math.max(0, (clientX - rect.left) / rect.width));
    const [v0, v1] = this.view();
    return v0 + f * (v1 - v0);
  }

  bindPointer() {
    let down = null;
    this.canvas.addEventListener('pointerdown', (ev) => {
      if (!this.data) return;
      down = { x: ev.clientX, t: this.timeAt(ev.clientX) };
      this.canvas.setPointerCapture(ev.pointerId);
    });
    this.canvas.addEventListener('pointermove', (ev) => {
      if (!this.data) return;
      const t = this.timeAt(ev.clientX);
      this.hover.hidden = false;
      this.hover.textContent = hms(new Date(t));
      const rect = this.canvas.getBoundingClientRect();
      this.hover.style.left = `${Math.min(rect.width - 60, Math.max(0, ev.clientX - rect.left - 30))}px`;
      if (down && Math.abs(ev.clientX - down.x) > 4) {
        this.selection = [Math.min(down.t, t), Math.max(down.t, t)];
        this.draw();
      }
    });
    this.canvas.addEventListener('pointerleave', () => { this.hover.hidden = true; });
    this.canvas.addEventListener('pointerup', (ev) => {
      if (!down || !this.data) return;
      const t = this.timeAt(ev.clientX);
      if (Math.abs(ev.clientX - down.x) > 4) {
        this.selection = [Math.min(down.t, t), Math.max(down.t, t)];
        this.draw();
        this.onSelect(this.selection);
      } else {
        this.onPick(t);
      }
      down = null;
    });
  }

  draw() {
    const dpr = window.devicePixelRatio || 1;
    const width = this.el.clientWidth || 300;
    const height = 64;
    if (this.canvas.width !== Math.round(width * dpr) || this.canvas.height !== Math.round(height * dpr)) {
      this.canvas.width = Math.round(width * dpr);
      this.canvas.height = Math.round(height * dpr);
      this.canvas.style.height = `${height}px`;
    }
    const ctx = this.canvas.getContext('2d');
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, width, height);
    if (!this.data) return;
    const [t0, t1] = this.view();
    const x = (t) => ((t - t0) / (t1 - t0)) * width;
    const band = [6, 30];
    ctx.fillStyle = '#f6f8fa';
    ctx.fillRect(0, band[0], width, band[1]);
    for (const [a, b, reason] of this.data.gaps) {
      if (b < t0 || a > t1) continue;
      ctx.fillStyle = reason === 'recording_lost' ? COLORS.lost : COLORS.gap;
      ctx.fillRect(x(a), band[0], Math.max(1, x(b) - x(a)), band[1]);
    }
    ctx.fillStyle = COLORS.covered;
    for (const [a, b] of this.data.covered) if (b >= t0 && a <= t1) ctx.fillRect(x(a), band[0], Math.max(2, x(b) - x(a)), band[1]);
    ctx.fillStyle = COLORS.event;
    for (const [a, b] of this.data.events) if (b >= t0 && a <= t1) ctx.fillRect(x(a), band[0] + band[1] + 2, Math.max(2, x(b) - x(a)), 6);
    for (const [a, b, label] of this.data.objects) {
      if (b < t0 || a > t1) continue;
      ctx.fillStyle = objectColor(label);
      ctx.fillRect(x(a), band[0] + band[1] + 9, Math.max(2, x(b) - x(a)), 4);
    }
    // ticks: the smallest step that leaves room for a label, aligned to the local clock
    ctx.fillStyle = COLORS.text;
    ctx.font = '10px system-ui, sans-serif';
    const step = STEPS.find((st) => (st / (t1 - t0)) * width >= 48) || STEPS[STEPS.length - 1];
    const first = new Date(t0);
    first.setMinutes(0, 0, 0);
    for (let t = first.getTime(); t <= t1; t += step / 5) {
      if (t < t0) continue;
      const px = x(t);
      const major = Math.round((t - first.getTime()) % step) === 0;
      ctx.fillRect(px, band[0] + band[1], 1, major ? 6 : 3);
      if (major && px < width - 30) {
        const d = new Date(t);
        const label = step >= 3600e3 ? String(d.getHours()).padStart(2, '0') : `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
        ctx.fillText(label, px + 2, height - 4);
      }
    }
    if (this.selection) {
      const [a, b] = this.selection;
      ctx.fillStyle = COLORS.selection;
      ctx.fillRect(x(a), 0, Math.max(2, x(b) - x(a)), band[0] + band[1] + 10);
    }
    if (this.playhead !== null && this.playhead >= t0 && this.playhead <= t1) {
      ctx.fillStyle = COLORS.playhead;
      ctx.fillRect(x(this.playhead) - 1, 0, 2, band[0] + band[1] + 10);
    }
  }
}
