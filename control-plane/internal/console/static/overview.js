// Overview: the window's statistics from GET /v1/stats/stream (pushed by the
// server, not polled): totals, throughput, queue depth and wait, processing
// time, fleet utilisation, top error codes and tenants.
import { h, fill, view, call, enc, stream, dur, when, shortID, panel, canFleet, isAdmin, errorBox } from './core.js';
import { lineChart, chartBox, fmtCount, fmtSeconds } from './charts.js';

const WINDOWS = ['1h', '24h', '7d'];

export function overview(params) {
  const win = WINDOWS.includes(params.get('window')) ? params.get('window') : '1h';
  const live = h('span', { class: 'live connecting', id: 'live', role: 'status' }, 'connecting');
  const picker = h('div', { class: 'segmented', role: 'group', 'aria-label': 'Window' },
    WINDOWS.map((w) => h('a', { href: '#/overview?window=' + w, class: w === win ? 'active' : '', 'aria-current': w === win ? 'true' : false }, w)));
  const cards = h('div', { class: 'cards', id: 'overview-cards' });
  const [tp, tpHost] = chartBox('Throughput per ' + bucketName(win), 'chart-throughput');
  const [qp, qHost] = chartBox('Queue depth and wait', 'chart-queue');
  const [pp, pHost] = chartBox('Processing time', 'chart-processing');
  const [fp, fHost] = chartBox('Fleet utilisation', 'chart-fleet');
  const errors = h('div', { id: 'top-errors' }, h('p', { class: 'muted' }, 'Loading…'));
  const failures = h('div', { id: 'recent-failures' }, h('p', { class: 'muted' }, 'Loading…'));
  const tenants = h('div', { id: 'tenant-stats' });
  const streamErr = h('div', { id: 'stats-error' });
  view().append(h('section', {},
    h('h2', {}, 'Overview', h('span', { class: 'spacer' }), picker, live),
    streamErr, cards,
    h('div', { class: 'charts' }, tp, qp, pp, canFleet() ? fp : null),
    h('div', { class: 'split' }, panel('Top error codes', errors), panel('Recent failures', failures)),
    isAdmin() ? panel('Tenants', tenants) : null));

  const charts = {
    throughput: lineChart('throughput', tpHost, [
      { label: 'submitted', color: 'submitted' }, { label: 'succeeded', color: 'succeeded', fill: true },
      { label: 'failed', color: 'failed' }, { label: 'canceled', color: 'canceled' }]),
    queue: lineChart('queue', qHost, [
      { label: 'queued', color: 'depth', fill: true },
      { label: 'wait p50', color: 'p50', axis: 'y2', fmt: fmtSeconds }, { label: 'wait p95', color: 'p95', axis: 'y2', fmt: fmtSeconds }]),
    processing: lineChart('processing', pHost, [
      { label: 'p50', color: 'p50', fmt: fmtSeconds }, { label: 'p95', color: 'p95', fmt: fmtSeconds },
      { label: 'real-time factor', color: 'rtf', axis: 'y2', fmt: (v) => (v == null ? '' : v.toFixed(2) + '×') }]),
  };
  if (canFleet()) {
    charts.fleet = lineChart('fleet', fHost, [{ label: 'busy slots', color: 'busy', fill: true }, { label: 'slots', color: 'slots' }]);
  }

  let lastFailed = -1;
  function render(s) {
    fill(streamErr);
    const b = s.buckets || [];
    const xs = b.map((x) => Date.parse(x.start) / 1000);
    const col = (k) => b.map((x) => x[k] || 0);
    // Buckets without a measurement have no percentile: leave a gap, not a zero.
    const opt = (k) => b.map((x) => (x[k] ? x[k] : null));
    charts.throughput.set(xs, [col('submitted'), col('succeeded'), col('failed'), col('canceled')]);
    charts.queue.set(xs, [col('queue_depth'), opt('queue_wait_p50'), opt('queue_wait_p95')]);
    charts.processing.set(xs, [opt('processing_p50'), opt('processing_p95'), opt('real_time_factor')]);
    if (charts.fleet) charts.fleet.set(xs, [col('busy_slots'), col('slots')]);

    const t = s.totals || {}, sum = s.summary || {}, fl = s.fleet;
    const finished = (sum.succeeded || 0) + (sum.failed || 0);
    const card = (id, title, value, sub, cls) => h('div', { class: 'card ' + (cls || ''), id: 'card-' + id },
      h('div', { class: 'card-title' }, title), h('div', { class: 'card-value' }, value), h('div', { class: 'card-sub' }, sub));
    fill(cards,
      card('queued', 'Queued', fmtCount(t.queued || 0), 'wait p95 ' + (sum.queue_wait_p95 ? dur(sum.queue_wait_p95) : '—'), 'queued'),
      card('running', 'Running', fmtCount(t.running || 0), fl && canFleet() ? fmtCount(fl.busy_slots) + ' of ' + fmtCount(fl.slots) + ' slots busy' : 'in progress now', 'running'),
      card('succeeded', 'Succeeded · ' + win, fmtCount(sum.succeeded || 0), fmtCount(t.succeeded || 0) + ' in all', 'succeeded'),
      card('failed', 'Failed · ' + win, fmtCount(sum.failed || 0), finished ? (100 * (sum.failed || 0) / finished).toFixed(1) + '% of finished' : 'nothing finished', 'failed'),
      card('audio', 'Audio transcribed · ' + win, fmtSeconds(sum.audio_seconds || 0), sum.real_time_factor ? 'real-time factor ' + sum.real_time_factor.toFixed(2) + '×' : '—'),
      card('processing', 'Processing p95', sum.processing_p95 ? dur(sum.processing_p95) : '—', 'p50 ' + (sum.processing_p50 ? dur(sum.processing_p50) : '—')));

    const errs = s.errors || [];
    const top = errs.length ? errs[0].count : 1;
    fill(errors, errs.length === 0 ? h('p', { class: 'muted' }, 'No failures in the last ' + win + '.') :
      h('ul', { class: 'bars', id: 'error-codes' }, errs.map((e) => {
        const bar = h('span', { class: 'fillbar' });
        bar.style.width = Math.max(2, 100 * e.count / top) + '%';
        return h('li', { 'data-code': e.code }, h('code', {}, e.code), h('span', { class: 'track' }, bar), h('span', { class: 'count' }, String(e.count)));
      })));

    if (isAdmin()) {
      const rows = (s.tenants || []).slice().sort((a, b) => b.submitted - a.submitted);
      fill(tenants, rows.length === 0 ? h('p', { class: 'muted' }, 'No tenant submitted work in the last ' + win + '.') :
        h('div', { class: 'table-wrap' }, h('table', { id: 'tenants-stats' },
          h('thead', {}, h('tr', {}, ['Tenant', 'Submitted', 'Succeeded', 'Failed', 'Canceled', 'Wait p95', 'Audio'].map((c) => h('th', { scope: 'col' }, c)))),
          h('tbody', {}, rows.map((r) => h('tr', { 'data-tenant': r.tenant }, h('td', {}, r.tenant), h('td', {}, fmtCount(r.submitted)), h('td', {}, fmtCount(r.succeeded)),
            h('td', {}, fmtCount(r.failed)), h('td', {}, fmtCount(r.canceled)), h('td', {}, r.queue_wait_p95 ? dur(r.queue_wait_p95) : '—'),
            h('td', {}, fmtSeconds(r.audio_seconds))))))));
    }
    if ((t.failed || 0) !== lastFailed) {
      lastFailed = t.failed || 0;
      loadFailures().catch((e) => fill(failures, errorBox(e)));
    }
  }

  async function loadFailures() {
    const { jobs } = await call('GET', '/v1/jobs?status=failed&limit=6');
    fill(failures, jobs.length === 0 ? h('p', { class: 'muted' }, 'No failed jobs.') :
      h('table', { class: 'compact' }, h('tbody', {}, jobs.map((j) => h('tr', {},
        h('td', {}, h('a', { href: '#/jobs/' + enc(j.id), class: 'mono' }, shortID(j.id))),
        h('td', {}, h('code', {}, (j.error && j.error.code) || ''), h('div', { class: 'muted small clip' }, (j.error && j.error.message) || '')),
        h('td', { class: 'nowrap' }, when(j.finished_at)))))),
      h('p', {}, h('a', { href: '#/jobs?status=failed' }, 'All failed jobs →')));
  }

  const setState = (st) => { live.className = 'live ' + st; live.textContent = st === 'live' ? 'live' : st === 'error' ? 'disconnected' : 'connecting'; };
  const close = stream('/v1/stats/stream?window=' + win, 'stats', render, (st) => {
    setState(st);
    if (st === 'error') fill(streamErr, errorBox(new Error('The live statistics stream closed; reload the page to reconnect.')));
  });
  return () => { close(); for (const c of Object.values(charts)) c.destroy(); };
}

function bucketName(win) {
  return win === '1h' ? 'minute' : win === '24h' ? '15 minutes' : 'hour';
}

