// Hand-drawn SVG mood charts. A timeline is a list of points
// {ts, label, scores: {neutral, sadness, joy, anger}, valence} as the
// operator API returns them (docs/protocol.md, Point).

import { CLASSES, CLASS_NAMES } from './common.js';

const NS = 'http://www.w3.org/2000/svg';

/** Colours of the classes and of the valence line (also used by the CSS legend). */
export const COLORS = {
  neutral: '#a3adb8',
  joy: '#e0a93b',
  sadness: '#5b8def',
  anger: '#dd6b5b',
  valence: '#24414e',
};

function svg(tag, attrs = {}) {
  const n = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, String(v));
  return n;
}

function num(v) {
  const x = Number(v);
  return Number.isFinite(x) ? x : 0;
}

function clamp(v, lo, hi) {
  return Math.min(hi, Math.max(lo, v));
}

function xs(n, left, width) {
  if (n <= 1) return [left + width / 2];
  return Array.from({ length: n }, (_, i) => left + (i * width) / (n - 1));
}

function path(points) {
  return points.map(([x, y], i) => `${i ? 'L' : 'M'}${x.toFixed(1)},${y.toFixed(1)}`).join(' ');
}

// flat draws a single point as a level line across the chart.
function flat(points) {
  return points.length === 1 ? [points[0], points[0]] : points;
}

function describe(points) {
  if (!points.length) return '감정 기록 없음 · No mood data yet';
  const last = points[points.length - 1];
  const name = CLASS_NAMES[last.label] || { ko: last.label || '—', en: '' };
  return `메시지 ${points.length}개, 최근 ${name.ko} · ${points.length} messages, latest ${name.en}, valence ${num(last.valence).toFixed(2)}`;
}

/**
 * sparkline draws the last `max` points small: the four class probabilities
 * as thin lines and the valence (-1…1) as a thicker line over them.
 */
export function sparkline(timeline, { width = 120, height = 32, max = 20 } = {}) {
  const orig = (timeline || []).slice(-max);
  const pts = flat(orig);
  const root = svg('svg', {
    class: 'spark', viewBox: `0 0 ${width} ${height}`, width, height,
    role: 'img', 'aria-label': describe(orig), preserveAspectRatio: 'none',
  });
  const pad = 3;
  const h = height - 2 * pad;
  root.append(svg('line', { x1: 0, x2: width, y1: pad + h / 2, y2: pad + h / 2, class: 'zero' }));
  if (!pts.length) return root;
  const x = xs(pts.length, pad, width - 2 * pad);
  for (const c of CLASSES) {
    const line = pts.map((p, i) => [x[i], pad + h * (1 - clamp(num(p.scores?.[c]), 0, 1))]);
    root.append(svg('path', { d: path(line), fill: 'none', stroke: COLORS[c], 'stroke-width': 1, opacity: 0.55 }));
  }
  const v = pts.map((p, i) => [x[i], pad + (h * (1 - clamp(num(p.valence), -1, 1))) / 2]);
  root.append(svg('path', { d: path(v), fill: 'none', stroke: COLORS.valence, 'stroke-width': 2, 'stroke-linejoin': 'round', 'stroke-linecap': 'round', class: 'valence' }));
  const [lx, ly] = v[v.length - 1];
  root.append(svg('circle', { cx: lx, cy: ly, r: 2.5, fill: COLORS.valence, class: 'valence-dot' }));
  return root;
}

/**
 * moodChart draws the whole timeline large: the four class probabilities as
 * stacked areas (0…1, left axis) and the valence of the running mood as a
 * line (-1…1, right axis).
 */
export function moodChart(timeline, { width = 760, height = 170 } = {}) {
  const orig = timeline || [];
  const pts = flat(orig);
  const root = svg('svg', {
    class: 'mood-chart', viewBox: `0 0 ${width} ${height}`, role: 'img',
    'aria-label': describe(orig), preserveAspectRatio: 'xMidYMid meet',
  });
  const m = { l: 34, r: 34, t: 10, b: 24 };
  const w = width - m.l - m.r;
  const h = height - m.t - m.b;
  const grid = svg('g', { class: 'grid' });
  for (const f of [0, 0.25, 0.5, 0.75, 1]) {
    const y = m.t + h * (1 - f);
    grid.append(svg('line', { x1: m.l, x2: m.l + w, y1: y, y2: y }));
  }
  root.append(grid);
  const axis = (x, y, text, anchor) => {
    const t = svg('text', { x, y, 'text-anchor': anchor, class: 'axis' });
    t.textContent = text;
    root.append(t);
  };
  axis(m.l - 6, m.t + 4, '1.0', 'end');
  axis(m.l - 6, m.t + h + 4, '0', 'end');
  axis(m.l + w + 6, m.t + 4, '+1', 'start');
  axis(m.l + w + 6, m.t + h / 2 + 4, '0', 'start');
  axis(m.l + w + 6, m.t + h + 4, '−1', 'start');
  if (!pts.length) {
    axis(m.l + w / 2, m.t + h / 2, '아직 기록이 없어요 · No messages yet', 'middle');
    return root;
  }
  const x = xs(pts.length, m.l, w);
  // Stacked areas: each class sits on the sum of the ones before it.
  const base = pts.map(() => 0);
  for (const c of CLASSES) {
    const top = pts.map((p, i) => base[i] + clamp(num(p.scores?.[c]), 0, 1));
    const upper = top.map((v, i) => [x[i], m.t + h * (1 - clamp(v, 0, 1))]);
    const lower = base.map((v, i) => [x[i], m.t + h * (1 - clamp(v, 0, 1))]).reverse();
    root.append(svg('path', { d: `${path(upper)} ${path(lower).replace(/^M/, 'L')} Z`, fill: COLORS[c], opacity: 0.42, class: `area area-${c}` }));
    top.forEach((v, i) => { base[i] = v; });
  }
  root.append(svg('line', { x1: m.l, x2: m.l + w, y1: m.t + h / 2, y2: m.t + h / 2, class: 'zero' }));
  const v = pts.map((p, i) => [x[i], m.t + (h * (1 - clamp(num(p.valence), -1, 1))) / 2]);
  root.append(svg('path', { d: path(v), fill: 'none', stroke: COLORS.valence, 'stroke-width': 2.5, 'stroke-linejoin': 'round', 'stroke-linecap': 'round', class: 'valence' }));
  for (const [cx, cy] of (orig.length === 1 ? v.slice(-1) : v)) root.append(svg('circle', { cx, cy, r: 3, fill: '#fff', stroke: COLORS.valence, 'stroke-width': 2, class: 'valence-dot' }));
  axis(m.l, height - 6, '처음 · first', 'start');
  axis(m.l + w, height - 6, '최근 · latest', 'end');
  return root;
}

/** legend returns a row of colour keys for the charts. */
export function legend() {
  const row = document.createElement('div');
  row.className = 'legend';
  const key = (color, text, line) => {
    const item = document.createElement('span');
    const sw = document.createElement('i');
    sw.className = line ? 'swatch line' : 'swatch';
    sw.style.background = color;
    item.append(sw, document.createTextNode(text));
    row.append(item);
  };
  for (const c of CLASSES) key(COLORS[c], `${CLASS_NAMES[c].ko} ${CLASS_NAMES[c].en}`);
  key(COLORS.valence, '정서가 valence', true);
  return row;
}
