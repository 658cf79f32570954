// Time-series charts drawn with uPlot (vendored, see uplot-LICENSE.txt). A
// chart keeps its size while new data arrives (setData), so live updates
// never shift the layout; it follows its container's width.
/* global uPlot */
import { h } from './core.js';

// registry lets the browser tests read the series each chart was given.
const registry = (window.ytcCharts = window.ytcCharts || {});

const palette = {
  submitted: '#2f5bea', succeeded: '#11713a', failed: '#b42318', canceled: '#8a8f99',
  depth: '#c08a00', p50: '#2f5bea', p95: '#7a3ee0', busy: '#1d4ed8', slots: '#9aa3b2', rtf: '#0e7490',
};

// lineChart draws series over the bucket starts (Unix seconds). series is
// [{label, color, fill, axis: 'y' | 'y2', fmt}]; fmt formats values on the
// axis and in the legend.
export function lineChart(name, host, series, opts) {
  const o = opts || {};
  const height = o.height || 200;
  const width = () => Math.max(240, Math.floor(host.clientWidth || 600));
  const scales = { x: { time: true } };
  const axes = [{ stroke: '#667085', grid: { stroke: '#eef0f4' }, ticks: { stroke: '#e3e6eb' } },
    { stroke: '#667085', grid: { stroke: '#eef0f4' }, ticks: { stroke: '#e3e6eb' }, size: 52, values: (u, v) => v.map(series[0].fmt || fmtCount) }];
  if (series.some((s) => s.axis === 'y2')) {
    const s2 = series.find((s) => s.axis === 'y2');
    scales.y2 = { auto: true };
    axes.push({ scale: 'y2', side: 1, stroke: '#667085', grid: { show: false }, size: 52, values: (u, v) => v.map(s2.fmt || fmtCount) });
  }
  const u = new uPlot({
    width: width(), height,
    scales,
    axes,
    cursor: { drag: { x: false, y: false } },
    legend: { live: true },
    series: [{ label: 'time', value: (u, v) => (v == null ? '—' : new Date(v * 1000).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })) }]
      .concat(series.map((s) => ({
        label: s.label,
        scale: s.axis === 'y2' ? 'y2' : 'y',
        stroke: palette[s.color] || s.color,
        fill: s.fill ? (palette[s.color] || s.color) + '22' : undefined,
        width: 1.5,
        paths: s.bars ? uPlot.paths.bars({ size: [0.7, 12] }) : undefined,
        points: { show: false },
        value: (u, v) => (v == null ? '—' : (s.fmt || fmtCount)(v)),
      }))),
  }, [[], ...series.map(() => [])], host);
  registry[name] = u;
  const ro = new ResizeObserver(() => { if (Math.abs(u.width - width()) > 2) u.setSize({ width: width(), height }); });
  ro.observe(host);
  return {
    set(xs, ys) { u.setData([xs, ...ys]); },
    destroy() { ro.disconnect(); u.destroy(); if (registry[name] === u) delete registry[name]; },
  };
}

// sparkline is a small chart without axes or legend, for table rows.
export function sparkline(name, host, series) {
  const u = new uPlot({
    width: 160, height: 34,
    legend: { show: false }, cursor: { show: false },
    axes: [{ show: false }, { show: false }],
    scales: { x: { time: false }, y: { range: (u, min, max) => [0, Math.max(1, max)] } },
    series: [{}].concat(series.map((s) => ({ stroke: palette[s.color] || s.color, width: 1.25, points: { show: false }, label: s.label }))),
  }, [[], ...series.map(() => [])], host);
  registry[name] = u;
  return {
    set(xs, ys) { u.setData([xs, ...ys]); },
    destroy() { u.destroy(); if (registry[name] === u) delete registry[name]; },
  };
}

export function fmtCount(v) {
  if (v == null) return '';
  const a = Math.abs(v);
  if (a >= 1e6) return (v / 1e6).toFixed(1) + 'M';
  if (a >= 1e4) return (v / 1e3).toFixed(0) + 'k';
  if (a >= 1e3) return (v / 1e3).toFixed(1) + 'k';
  return Number.isInteger(v) ? String(v) : v.toFixed(1);
}

export function fmtSeconds(v) {
  if (v == null) return '';
  if (v === 0) return '0';
  if (v < 1) return Math.round(v * 1000) + 'ms';
  if (v < 120) return (v < 10 ? v.toFixed(1) : Math.round(v)) + 's';
  if (v < 7200) return Math.round(v / 60) + 'm';
  return (v / 3600).toFixed(1) + 'h';
}

// chartBox is a titled panel and the element a chart draws into (its height
// reserved in CSS before the first data).
export const chartBox = (title, id) => {
  const host = h('div', { class: 'chart', id });
  return [h('div', { class: 'panel chart-panel' }, h('h3', {}, title), host), host];
};
