// A stacked bar chart on a canvas (bytes per hour per camera), with a DOM legend.

import { h } from './dom.js';
import { bytes } from './format.js';

const PALETTE = ['#0969da', '#2da44e', '#fb8500', '#8250df', '#cf222e', '#1b7c83', '#bf8700', '#6e7781'];

export function color(i) { return PALETTE[i % PALETTE.length]; }

/** series: [{name, values: [24 numbers]}] -> an element with the chart and its legend. */
export function stackedBars(series, labels) {
  const canvas = h('canvas.chart-canvas', { role: 'img', 'aria-label': 'Bytes recorded per hour, per camera' });
  const legend = h('ul.legend', series.map((s, i) => h('li', h('span.swatch', { dataset: { i: String(i % PALETTE.length) } }), s.name)));
  const wrap = h('div.chart', canvas, legend);
  const draw = () => {
    const dpr = window.devicePixelRatio || 1;
    const width = wrap.clientWidth || 320;
    const height = 220;
    canvas.width = Math.round(width * dpr);
    canvas.height = Math.round(height * dpr);
    canvas.style.height = `${height}px`;
    const ctx = canvas.getContext('2d');
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, width, height);
    const n = labels.length;
    const totals = labels.map((_, k) => series.reduce((sum, s) => sum + (s.values[k] || 0), 0));
    const max = Math.max(1, ...totals);
    const left = 64;
    const bottom = 20;
    const plotH = height - bottom - 8;
    const slot = (width - left) / n;
    ctx.font = '10px system-ui, sans-serif';
    ctx.fillStyle = '#57606a';
    for (let g = 0; g <= 4; g += 1) {
      const y = 8 + plotH - (plotH * g) / 4;
      ctx.fillRect(left - 4, y, width - left + 4, 1);
      ctx.fillText(bytes((max * g) / 4), 2, y + 3);
    }
    for (let k = 0; k < n; k += 1) {
      let y = 8 + plotH;
      series.forEach((s, i) => {
        const v = s.values[k] || 0;
        const bh = (v / max) * plotH;
        ctx.fillStyle = color(i);
        ctx.fillRect(left + k * slot + 1, y - bh, Math.max(1, slot - 2), bh);
        y -= bh;
      });
      if (n <= 24 && (slot > 18 || k % 3 === 0)) {
        ctx.fillStyle = '#57606a';
        ctx.fillText(labels[k], left + k * slot + 1, height - 6);
      }
    }
  };
  const ro = new ResizeObserver(draw);
  ro.observe(wrap);
  wrap.destroy = () => ro.disconnect();
  return wrap;
}
