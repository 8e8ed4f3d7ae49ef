// Object zones of one camera, drawn over its live picture (camera page, admins): the polygons
// in fractions of the frame, the labels that count in each. "Draw a zone" then click its corners
// on the picture; "Add zone" keeps it; "Save zones" sends them all (PATCH object_zones). An
// object counts in a zone when the bottom centre of its box is inside (docs/detector.md).

import { patch } from './api.js';
import { fail, toast } from './ui.js';
import { h, setText } from './dom.js';

const SVG = 'http://www.w3.org/2000/svg';

function svg(tag, attrs = {}) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  return el;
}

const round = (v) => Math.round(Math.min(1, Math.max(0, v)) * 1000) / 1000;

export class ZoneEditor {
  constructor(frame, cameraId) {
    this.cameraId = cameraId;
    this.zones = [];
    this.points = null; // the polygon being drawn, or null
    this.dirty = false; // changes not saved yet: the camera's refreshes leave them alone
    this.overlay = svg('svg', { class: 'zone-overlay', id: 'zone-overlay', viewBox: '0 0 1 1', preserveAspectRatio: 'none' });
    this.overlay.addEventListener('click', (ev) => this.click(ev));
    frame.append(this.overlay);
    this.list = h('ul.zone-list#zone-list');
    this.name = h('input#zone-name', { maxlength: 64, placeholder: 'e.g. driveway', 'aria-label': 'Zone name' });
    this.labels = h('input#zone-labels', { placeholder: 'person, car (empty: every label)', 'aria-label': 'Zone labels' });
    this.hint = h('p.muted#zone-hint');
    this.drawBtn = h('button#zone-draw', { type: 'button', onclick: () => this.startDrawing() }, 'Draw a zone');
    this.addBtn = h('button#zone-add', { type: 'button', disabled: true, onclick: () => this.addZone() }, 'Add zone');
    this.cancelBtn = h('button#zone-cancel', { type: 'button', hidden: true, onclick: () => this.stopDrawing('') }, 'Cancel');
    this.el = h('div.zone-editor#zone-editor',
      h('p.muted', 'Where detected objects count. No zones: the whole picture, every label.'),
      this.list,
      h('div.inline-form', h('label', 'Name', this.name), h('label', 'Labels', this.labels), this.drawBtn, this.addBtn,
        this.cancelBtn),
      this.hint,
      h('button.primary#zones-save', { type: 'button', onclick: () => this.save() }, 'Save zones'));
  }

  /** Lay the overlay over the picture itself (the frame letterboxes a picture of another shape). */
  fit(width, height) {
    const frame = this.overlay.parentElement.getBoundingClientRect();
    if (!width || !height || !frame.width || !frame.height) return;
    const pic = width / height;
    const box = frame.width / frame.height;
    const w = box > pic ? (pic / box) * 100 : 100;
    const hh = box > pic ? 100 : (box / pic) * 100;
    Object.assign(this.overlay.style, { width: `${w}%`, height: `${hh}%`, left: `${(100 - w) / 2}%`, top: `${(100 - hh) / 2}%` });
  }

  set(zones) {
    if (this.points || this.dirty) return; // not over a zone being drawn or changes not saved
    this.zones = (zones || []).map((z) => ({ ...z, points: z.points.map((p) => [...p]) }));
    this.render();
  }

  startDrawing() {
    this.points = [];
    this.cancelBtn.hidden = false;
    this.overlay.classList.add('drawing');
    setText(this.hint, 'Click the corners of the zone on the picture (at least 3), then "Add zone".');
    this.render();
  }

  click(ev) {
    if (!this.points) return;
    const r = this.overlay.getBoundingClientRect();
    this.points.push([round((ev.clientX - r.left) / r.width), round((ev.clientY - r.top) / r.height)]);
    this.addBtn.disabled = this.points.length < 3;
    this.render();
  }

  addZone() {
    const name = this.name.value.trim();
    if (!name) { toast('Give the zone a name', 'error'); return; }
    if (this.zones.some((z) => z.name === name)) { toast(`There is a zone "${name}" already`, 'error'); return; }
    const labels = this.labels.value.split(',').map((x) => x.trim().toLowerCase()).filter(Boolean);
    this.zones.push({ name, points: this.points, labels });
    this.dirty = true;
    this.name.value = '';
    this.labels.value = '';
    this.stopDrawing(`Zone "${name}" added; "Save zones" keeps it.`);
  }

  stopDrawing(hint) {
    this.points = null;
    this.overlay.classList.remove('drawing');
    this.addBtn.disabled = true;
    this.cancelBtn.hidden = true;
    setText(this.hint, hint);
    this.render();
  }

  async save() {
    try {
      const zones = this.zones.map((z) => ({ name: z.name, points: z.points, labels: z.labels,
        ...(z.min_score !== undefined ? { min_score: z.min_score } : {}), ...(z.min_area !== undefined ? { min_area: z.min_area } : {}) }));
      const out = await patch(`/cameras/${encodeURIComponent(this.cameraId)}`, { object_zones: zones });
      this.points = null;
      this.dirty = false;
      this.set(out.object_zones);
      toast(zones.length ? `${zones.length} zone${zones.length > 1 ? 's' : ''} saved` : 'Zones removed: the whole picture counts');
    } catch (err) { fail(err); }
  }

  render() {
    const shapes = this.zones.map((z) => {
      const poly = svg('polygon', { points: z.points.map((p) => p.join(',')).join(' '), class: 'zone', 'data-zone': z.name });
      const title = svg('title');
      title.textContent = `${z.name}: ${z.labels.length ? z.labels.join(', ') : 'every label'}`;
      poly.append(title);
      return poly;
    });
    if (this.points && this.points.length) {
      shapes.push(svg('polyline', { points: this.points.map((p) => p.join(',')).join(' '), class: 'zone drawing-line' }));
    }
    this.overlay.replaceChildren(...shapes);
    this.list.replaceChildren(...this.zones.map((z, i) => h('li', { dataset: { zone: z.name } },
      h('strong', z.name), ` — ${z.labels.length ? z.labels.join(', ') : 'every label'} `,
      h('button', { type: 'button', onclick: () => { this.zones.splice(i, 1); this.dirty = true; this.render(); } }, 'Remove'))));
  }
}
