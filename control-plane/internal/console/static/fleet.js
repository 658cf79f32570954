// Fleet: every agent with its state, capabilities, the tasks it holds now,
// its last hour of finished and failed leases (from the statistics stream)
// and its last heartbeat; drain, resume and revoke. Rows are updated in
// place, so the sparklines and the layout stay put as data arrives.
import { h, fill, view, call, enc, notice, poll, stream, when, badge, shortID, confirmBar, table, emptyRow, session, errorBox } from './core.js';
import { sparkline } from './charts.js';

export function fleet() {
  const host = h('div', { class: 'bulk-host' });
  const summary = h('p', { class: 'muted', id: 'fleet-summary' });
  const [tbl, tbody] = table('agents', ['Agent', 'State', 'Capabilities', 'Now running', 'Last hour', 'Heartbeat', ''], 'agents-body');
  view().append(h('section', {}, h('h2', {}, 'Fleet'), summary, host, tbl));

  const rows = new Map(); // agent id → {tr, cells, spark}
  let series = { xs: [], byAgent: {} };

  async function act(a, action) {
    try {
      const r = await call('POST', '/v1/agents/' + enc(a.id) + '/' + action);
      notice('Agent ' + a.name + ' is now ' + r.state + '.', 'ok');
    } catch (e) {
      if (e.status !== 401) notice('Could not ' + action + ' ' + a.name + ': ' + e.message, 'error');
    }
    await load();
  }

  function row(a) {
    let r = rows.get(a.id);
    if (!r) {
      const cells = Array.from({ length: 7 }, () => h('td'));
      const sparkHost = h('div', { class: 'spark' });
      const counts = h('div', { class: 'muted small' });
      cells[4].append(sparkHost, counts);
      cells[6].className = 'actions';
      r = { tr: h('tr', { 'data-agent': a.id }, cells), cells, counts, spark: sparkline('agent-' + a.id, sparkHost, [{ color: 'succeeded', label: 'succeeded' }, { color: 'failed', label: 'failed' }]) };
      rows.set(a.id, r);
    }
    const c = a.capabilities || {};
    const engines = (c.engines || []).map((e) => e.name + (e.models && e.models.length ? ' (' + e.models.join(', ') + ')' : '')).join('; ');
    const gpus = (c.gpus || []).map((g) => g.name + (g.memory_mb ? ' ' + Math.round(g.memory_mb / 1024) + ' GB' : '')).join(', ');
    const [name, state, caps, now, , beat, actions] = r.cells;
    fill(name, h('div', {}, a.name), h('div', { class: 'mono muted small', title: a.id }, shortID(a.id)),
      a.hostname ? h('div', { class: 'muted small' }, a.hostname + (a.version ? ' · ' + a.version : '')) : null);
    fill(state, badge(a.state));
    fill(caps, h('div', {}, engines || '—'), h('div', { class: 'muted small' }, gpus ? 'GPU: ' + gpus : 'CPU'),
      (c.languages && c.languages.length) ? h('div', { class: 'muted small' }, 'languages: ' + c.languages.join(', ')) : null,
      (c.kinds && c.kinds.length) ? h('div', { class: 'muted small' }, 'tasks: ' + c.kinds.join(', ')) : null,
      Object.entries(c.labels || {}).map(([k, v]) => h('span', { class: 'chip' }, k + '=' + v)));
    const held = a.tasks || [];
    fill(now, h('div', {}, a.active_tasks + ' of ' + (c.slots || 0) + ' slots'),
      held.length ? h('ul', { class: 'held' }, held.map((t) => h('li', { 'data-task': t.id },
        h('a', { href: '#/jobs/' + enc(t.job_id), class: 'mono' }, shortID(t.job_id)), ' ', t.kind,
        t.chunk ? ' #' + t.chunk.index : '', t.stage ? h('span', { class: 'muted' }, ' · ' + t.stage) : null,
        t.started_at ? h('span', { class: 'muted' }, ' · ', when(t.started_at)) : null))) : null);
    fill(beat, when(a.last_seen_at), h('div', { class: 'muted small' }, 'since ' + new Date(a.created_at).toLocaleDateString()));
    fill(actions,
      a.state === 'revoked' ? null : (a.state === 'draining'
        ? h('button', { type: 'button', class: 'small', 'data-action': 'resume', onclick: () => act(a, 'resume') }, 'Resume')
        : h('button', { type: 'button', class: 'small', 'data-action': 'drain', onclick: () => act(a, 'drain') }, 'Drain')),
      a.state === 'revoked' ? null : h('button', { type: 'button', class: 'small danger', 'data-action': 'revoke', onclick: () => confirmBar(host, 'Revoke ' + a.name + '? It is cut off at once and its tasks are requeued; it must enroll again.', 'Revoke', () => act(a, 'revoke')) }, 'Revoke'));
    drawSpark(a.id, r);
    return r.tr;
  }

  function drawSpark(id, r) {
    const s = series.byAgent[id];
    const xs = series.xs.map((_, i) => i);
    r.spark.set(xs, [s ? s.succeeded_series : xs.map(() => 0), s ? s.failed_series : xs.map(() => 0)]);
    fill(r.counts, s ? s.succeeded + ' finished · ' + s.failed + ' failed' : 'no leases ended');
  }

  async function load() {
    let agents;
    try { ({ agents } = await call('GET', '/v1/agents')); } catch (e) {
      if (e.status === 403) { fill(summary, 'Your role (' + (session.role || '?') + ') cannot see the fleet.'); return; }
      throw e;
    }
    const live = agents.filter((a) => a.state === 'active' || a.state === 'draining');
    summary.textContent = agents.length + ' agent' + (agents.length === 1 ? '' : 's') + ' · ' + live.length + ' online · ' +
      live.reduce((n, a) => n + a.active_tasks, 0) + ' of ' + live.reduce((n, a) => n + ((a.capabilities && a.capabilities.slots) || 0), 0) + ' slots busy';
    const seen = new Set(agents.map((a) => a.id));
    for (const [id, r] of rows) {
      if (!seen.has(id)) { r.spark.destroy(); rows.delete(id); }
    }
    if (agents.length === 0) { fill(tbody, emptyRow(7, 'No agents. Enroll one with: ytcaption agents enroll')); return; }
    fill(tbody, agents.map(row));
  }

  const closeStream = stream('/v1/stats/stream?window=1h&series=agents&interval=10', 'stats', (s) => {
    series = { xs: s.buckets || [], byAgent: Object.fromEntries((s.agents || []).map((a) => [a.agent_id, a])) };
    for (const [id, r] of rows) drawSpark(id, r);
  }, (st) => { if (st === 'error') fill(host, errorBox(new Error('The statistics stream closed; reload to see per-agent history.'))); });
  const stopPoll = poll(load, 5000);
  return () => { stopPoll(); closeStream(); for (const r of rows.values()) r.spark.destroy(); };
}
