// Small charts in plain SVG: horizontal bars (counts by kind) and a time series of bars with an
// optional line on a second axis (daily violations and compliance rate).

import { s, h } from './dom.js';

const BAR_COLOR = '#1e88e5';
const LINE_COLOR = '#2e7d32';

function niceMax(value) {
  if (!(value > 0)) return 1;
  const magnitude = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) if (value <= step * magnitude) return step * magnitude;
  return 10 * magnitude;
}

/** Cuts long labels (company names) to fit the label column; the tooltip keeps the whole. */
function shorten(text, max) {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** Horizontal bars for [{label, value}], largest first. */
export function barChart(rows, { testid, width = 520 } = {}) {
  const data = rows.filter((r) => Number.isFinite(r.value)).sort((a, b) => b.value - a.value);
  if (!data.length) return h('p', { class: 'muted', testid }, '–');
  const rowHeight = 24;
  const labelWidth = 170;
  const height = data.length * rowHeight + 8;
  const max = niceMax(Math.max(...data.map((r) => r.value)));
  const scale = (width - labelWidth - 50) / max;
  return s('svg', { class: 'chart bar-chart', testid, viewBox: `0 0 ${width} ${height}`, width, height, role: 'img' },
    data.map((r, i) => {
      const y = i * rowHeight + 4;
      return s('g', { class: 'bar', 'data-key': r.key ?? r.label, 'data-value': r.value },
        s('text', { x: labelWidth - 6, y: y + 15, 'text-anchor': 'end', class: 'label' }, shorten(String(r.label ?? ''), 14)),
        s('rect', { x: labelWidth, y: y + 3, width: Math.max(1, r.value * scale), height: rowHeight - 8, fill: r.color || BAR_COLOR }),
        s('text', { x: labelWidth + r.value * scale + 4, y: y + 15, class: 'value' }, String(r.value)),
        s('title', null, `${r.label}: ${r.value}`));
    }));
}

/**
 * Bars per day ([{date, value}]) with an optional line ([{date, value}] in 0..1, drawn as a
 * percentage on the right axis).
 */
export function timeChart(bars, line, { testid, width = 640, height = 220, barLabel = '', lineLabel = '' } = {}) {
  const days = bars.map((b) => b.date);
  if (!days.length) return h('p', { class: 'muted', testid }, '–');
  const pad = { left: 40, right: 44, top: 16, bottom: 34 };
  const plotW = width - pad.left - pad.right;
  const plotH = height - pad.top - pad.bottom;
  const max = niceMax(Math.max(...bars.map((b) => b.value).filter(Number.isFinite), 0));
  const step = plotW / days.length;
  const x = (i) => pad.left + i * step;
  const y = (v) => pad.top + plotH - (v / max) * plotH;
  const yRate = (r) => pad.top + plotH - r * plotH;
  const labelEvery = Math.max(1, Math.ceil(days.length / 8));
  const children = [
    s('line', { x1: pad.left, y1: pad.top + plotH, x2: width - pad.right, y2: pad.top + plotH, class: 'axis' }),
    s('text', { x: pad.left - 4, y: pad.top + 4, 'text-anchor': 'end', class: 'tick' }, String(max)),
    s('text', { x: pad.left - 4, y: pad.top + plotH, 'text-anchor': 'end', class: 'tick' }, '0'),
  ];
  bars.forEach((b, i) => {
    const value = Number.isFinite(b.value) ? b.value : 0;
    children.push(s('rect', { x: x(i) + step * 0.15, y: y(value), width: Math.max(1, step * 0.7), height: pad.top + plotH - y(value), fill: BAR_COLOR, class: 'day-bar', 'data-date': b.date, 'data-value': value },
      s('title', null, `${b.date} ${barLabel}: ${value}`)));
    if (i % labelEvery === 0) children.push(s('text', { x: x(i) + step / 2, y: height - 14, 'text-anchor': 'middle', class: 'tick' }, b.date.slice(5)));
  });
  const linePoints = (line || []).map((p) => ({ i: days.indexOf(p.date), value: p.value })).filter((p) => p.i >= 0 && Number.isFinite(p.value));
  if (linePoints.length) {
    children.push(s('polyline', { points: linePoints.map((p) => `${x(p.i) + step / 2},${yRate(p.value)}`).join(' '), fill: 'none', stroke: LINE_COLOR, 'stroke-width': 2, class: 'rate-line' }));
    for (const p of linePoints) children.push(s('circle', { cx: x(p.i) + step / 2, cy: yRate(p.value), r: 3, fill: LINE_COLOR }, s('title', null, `${days[p.i]} ${lineLabel}: ${(p.value * 100).toFixed(1)}%`)));
    children.push(s('text', { x: width - pad.right + 4, y: pad.top + 4, class: 'tick rate' }, '100%'));
    children.push(s('text', { x: width - pad.right + 4, y: pad.top + plotH, class: 'tick rate' }, '0%'));
  }
  return s('svg', { class: 'chart time-chart', testid, viewBox: `0 0 ${width} ${height}`, width, height, role: 'img' }, children);
}
