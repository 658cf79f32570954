'use strict';
// The ytcaption operator console: a hash-routed page over the JSON API. It
// authenticates with the session cookie and echoes the ytc_csrf cookie in
// X-CSRF-Token on every state-changing call. All data is put in the page
// with textContent, never as HTML.
(function () {
  const FINAL = ['succeeded', 'failed', 'canceled'];
  const STATUSES = ['queued', 'running', 'succeeded', 'failed', 'canceled'];
  const PAGE = 25;

  // ---- DOM helpers -------------------------------------------------------
  function h(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
      else if (k === 'class') e.className = v;
      else if (k === 'text') e.textContent = v;
      else e.setAttribute(k, v === true ? '' : v);
    }
    e.append(...nodes(kids));
    return e;
  }
  // nodes flattens nested arrays of children, skips null/undefined/false and
  // turns anything that is not a node into text.
  function nodes(kids) {
    return kids.flat(Infinity).filter((k) => k !== undefined && k !== null && k !== false)
      .map((k) => (k instanceof Node ? k : document.createTextNode(String(k))));
  }
  // fill replaces an element's children.
  function fill(e, ...kids) {
    e.replaceChildren(...nodes(kids));
    return e;
  }
  const view = () => document.getElementById('view');
  function notice(msg, kind) {
    const n = document.getElementById('notice');
    n.textContent = msg;
    n.className = 'notice ' + (kind || 'info');
    n.hidden = !msg;
    clearTimeout(notice.t);
    if (msg && kind !== 'error') notice.t = setTimeout(() => { n.hidden = true; }, 6000);
  }

  // ---- API ---------------------------------------------------------------
  function csrf() {
    for (const part of document.cookie.split(';')) {
      const [k, ...v] = part.trim().split('=');
      if (k === 'ytc_csrf') return decodeURIComponent(v.join('='));
    }
    return '';
  }
  async function call(method, path, body) {
    const opts = { method, credentials: 'same-origin', headers: { 'Accept': 'application/json' } };
    if (method !== 'GET') opts.headers['X-CSRF-Token'] = csrf();
    if (body !== undefined) {
      opts.headers['Content-Type'] = 'application/json';
      opts.body = JSON.stringify(body);
    }
    const r = await fetch(path, opts);
    if (r.status === 401) {
      location.href = '/console/login?expired=1';
      throw Object.assign(new Error('signed out'), { status: 401 });
    }
    if (r.status === 204) return null;
    const data = await r.json().catch(() => null);
    if (!r.ok) {
      const e = (data && data.error) || {};
      throw Object.assign(new Error(e.message || ('HTTP ' + r.status)), { status: r.status, code: e.code });
    }
    return data;
  }
  const listJobs = (status, cursor, limit) => {
    const q = new URLSearchParams({ limit: String(limit || PAGE) });
    if (status) q.set('status', status);
    if (cursor) q.set('cursor', cursor);
    return call('GET', '/v1/jobs?' + q);
  };

  // ---- formatting --------------------------------------------------------
  function ago(ts) {
    if (!ts) return '—';
    const s = Math.max(0, (Date.now() - new Date(ts).getTime()) / 1000);
    return dur(s) + ' ago';
  }
  function dur(s) {
    if (s < 60) return Math.round(s) + 's';
    if (s < 3600) return Math.floor(s / 60) + 'm ' + Math.round(s % 60) + 's';
    if (s < 86400) return Math.floor(s / 3600) + 'h ' + Math.floor((s % 3600) / 60) + 'm';
    return Math.floor(s / 86400) + 'd ' + Math.floor((s % 86400) / 3600) + 'h';
  }
  function clock(s) {
    const m = Math.floor(s / 60);
    return m + ':' + (s - m * 60).toFixed(1).padStart(4, '0');
  }
  const when = (ts) => h('span', { title: ts ? new Date(ts).toLocaleString() : '' }, ago(ts));
  const badge = (status) => h('span', { class: 'badge ' + status }, status);
  const shortID = (id) => id.length > 13 ? id.slice(0, 8) + '…' + id.slice(-4) : id;
  function source(j) {
    const s = j.source || {};
    if (s.url) return s.url;
    if (s.filename) return s.filename + ' (upload)';
    return '—';
  }
  function progress(j) {
    const p = Math.round((j.progress || 0) * 100);
    const bar = h('div', { class: 'bar ' + j.status });
    bar.style.width = p + '%'; // CSSOM, which the style CSP allows; a style attribute it would not
    return h('div', { class: 'progress', title: p + '%' }, bar, h('span', {}, p + '%'));
  }

  // ---- actions -----------------------------------------------------------
  async function jobAction(id, action) {
    try {
      const j = await call('POST', '/v1/jobs/' + encodeURIComponent(id) + '/' + action);
      notice('Job ' + shortID(id) + ' is now ' + j.status + '.', 'ok');
      return j;
    } catch (e) {
      if (e.status !== 401) notice('Could not ' + action + ' job ' + shortID(id) + ': ' + e.message, 'error');
      return null;
    }
  }
  // confirmBar shows an inline confirmation instead of a modal dialog.
  function confirmBar(host, text, label, run) {
    fill(host, h('div', { class: 'confirm' }, h('span', {}, text),
      h('button', { class: 'danger', type: 'button', onclick: async (ev) => { ev.target.disabled = true; await run(); fill(host); } }, label),
      h('button', { class: 'ghost', type: 'button', onclick: () => fill(host) }, 'Dismiss')));
  }

  // ---- views -------------------------------------------------------------
  // Each view renders into #view and returns a function that stops its timers.
  const views = { overview, jobs, job, fleet };
  let stop = () => {};
  let me = null;

  function route() {
    stop();
    if (!document.getElementById('notice').classList.contains('error')) notice('');
    const hash = location.hash.replace(/^#\/?/, '') || 'overview';
    const [pathPart, query] = hash.split('?');
    const parts = pathPart.split('/');
    let name = parts[0];
    const params = new URLSearchParams(query || '');
    if (name === 'jobs' && parts[1]) { name = 'job'; params.set('id', decodeURIComponent(parts[1])); }
    if (!views[name]) name = 'overview';
    for (const a of document.querySelectorAll('#nav a')) {
      a.classList.toggle('active', a.dataset.view === (name === 'job' ? 'jobs' : name));
    }
    view().replaceChildren();
    stop = views[name](params) || (() => {});
  }

  function poll(fn, ms) {
    let timer = null, alive = true;
    const tick = async () => {
      try { await fn(); } catch (e) { if (e.status !== 401) notice(e.message, 'error'); }
      if (alive) timer = setTimeout(tick, ms);
    };
    tick();
    return () => { alive = false; clearTimeout(timer); };
  }

  // Overview: queue depth and age, throughput and failures, fleet summary.
  function overview() {
    const root = h('section', {}, h('h2', {}, 'Overview'));
    const cards = h('div', { class: 'cards' });
    const lower = h('div', { class: 'split' });
    root.append(cards, lower);
    view().append(root);
    const CAP = 5000;
    async function scan(status) {
      let n = 0, cursor = '', more = false, oldest = null;
      const jobs = [];
      do {
        const page = await listJobs(status, cursor, 1000);
        n += page.jobs.length;
        if (page.jobs.length) oldest = page.jobs[page.jobs.length - 1];
        jobs.push(...page.jobs);
        cursor = page.next_cursor || '';
        more = !!cursor;
      } while (more && n < CAP);
      return { n, more, oldest, jobs };
    }
    return poll(async () => {
      const scans = {};
      await Promise.all(STATUSES.map(async (s) => { scans[s] = await scan(s); }));
      const count = (s) => scans[s].n + (scans[s].more ? '+' : '');
      const hour = Date.now() - 3600e3, day = Date.now() - 86400e3;
      const finishedSince = (s, t) => scans[s].jobs.filter((j) => j.finished_at && new Date(j.finished_at).getTime() >= t).length;
      const q = scans.queued;
      const card = (title, value, sub, cls) => h('div', { class: 'card ' + (cls || '') }, h('div', { class: 'card-title' }, title), h('div', { class: 'card-value' }, value), h('div', { class: 'card-sub' }, sub));
      fill(cards,
        card('Queued', count('queued'), q.oldest ? 'oldest waiting ' + dur((Date.now() - new Date(q.oldest.created_at)) / 1000) : 'nothing waiting', 'queued'),
        card('Running', count('running'), 'in progress now', 'running'),
        card('Succeeded · last hour', finishedSince('succeeded', hour), finishedSince('succeeded', day) + ' in 24 h · ' + count('succeeded') + ' total', 'succeeded'),
        card('Failed · last hour', finishedSince('failed', hour), finishedSince('failed', day) + ' in 24 h · ' + count('failed') + ' total', 'failed'),
        card('Canceled', count('canceled'), 'total', 'canceled'),
      );

      // Failures: the newest failed jobs and their error codes.
      const codes = {};
      for (const j of scans.failed.jobs) { const c = (j.error && j.error.code) || 'unknown'; codes[c] = (codes[c] || 0) + 1; }
      const failures = h('div', { class: 'panel' }, h('h3', {}, 'Recent failures'),
        scans.failed.jobs.length === 0 ? h('p', { class: 'muted' }, 'No failed jobs.') :
          h('table', {}, h('thead', {}, h('tr', {}, h('th', {}, 'Job'), h('th', {}, 'Error'), h('th', {}, 'Finished'))),
            h('tbody', {}, scans.failed.jobs.slice(0, 8).map((j) => h('tr', {},
              h('td', {}, h('a', { href: '#/jobs/' + encodeURIComponent(j.id), class: 'mono' }, shortID(j.id))),
              h('td', {}, h('code', {}, (j.error && j.error.code) || ''), ' ', h('span', { class: 'muted' }, (j.error && j.error.message) || '')),
              h('td', {}, when(j.finished_at)))))),
        Object.keys(codes).length ? h('p', { class: 'muted small' }, 'By code: ' + Object.entries(codes).sort((a, b) => b[1] - a[1]).map(([c, n]) => c + ' ' + n).join(', ')) : null);

      let fleetPanel;
      try {
        const { agents } = await call('GET', '/v1/agents');
        const by = {};
        let slots = 0, active = 0;
        for (const a of agents) {
          by[a.state] = (by[a.state] || 0) + 1;
          if (a.state === 'active' || a.state === 'draining') { slots += (a.capabilities && a.capabilities.slots) || 0; active += a.active_tasks; }
        }
        fleetPanel = h('div', { class: 'panel' }, h('h3', {}, 'Fleet'),
          agents.length === 0 ? h('p', { class: 'muted' }, 'No agents have registered yet.') :
            h('dl', { class: 'facts' },
              ['active', 'draining', 'offline', 'revoked'].map((s) => [h('dt', {}, s), h('dd', {}, String(by[s] || 0))]),
              h('dt', {}, 'busy slots'), h('dd', {}, active + ' of ' + slots)),
          h('p', {}, h('a', { href: '#/fleet' }, 'Manage agents →')));
      } catch (e) {
        if (e.status !== 403) throw e;
        fleetPanel = h('div', { class: 'panel' }, h('h3', {}, 'Fleet'), h('p', { class: 'muted' }, 'Your role cannot see the fleet.'));
      }
      fill(lower, failures, fleetPanel);
    }, 10000);
  }

  // Jobs: filter by status, page with cursors, act singly or on every match.
  function jobs(params) {
    const status = params.get('status') || '';
    const cursors = [''];
    let page = 0;
    const filter = h('select', { id: 'status-filter', onchange: (ev) => { location.hash = '#/jobs' + (ev.target.value ? '?status=' + ev.target.value : ''); } },
      h('option', { value: '' }, 'All statuses'), STATUSES.map((s) => h('option', { value: s, selected: s === status }, s)));
    const bulkHost = h('div', { class: 'bulk-host' });
    const canCancel = !FINAL.includes(status);
    const canRetry = status === 'failed' || status === 'canceled';
    const toolbar = h('div', { class: 'toolbar' },
      h('label', { for: 'status-filter' }, 'Status '), filter,
      h('span', { class: 'spacer' }),
      h('button', { id: 'bulk-cancel', type: 'button', class: 'ghost', disabled: !canCancel, title: 'Cancel every queued or running job that matches the filter', onclick: () => bulk('cancel') }, 'Cancel all matching…'),
      h('button', { id: 'bulk-retry', type: 'button', class: 'ghost', disabled: !canRetry, title: 'Retry every job that matches the filter (failed or canceled only)', onclick: () => bulk('retry') }, 'Retry all matching…'));
    const tbody = h('tbody', { id: 'jobs-body' });
    const pager = h('div', { class: 'pager' });
    view().append(h('section', {}, h('h2', {}, 'Jobs'), toolbar, bulkHost,
      h('table', { class: 'jobs' }, h('thead', {}, h('tr', {}, ['Job', 'Status', 'Stage', 'Progress', 'Source', 'Tenant', 'Created', ''].map((t) => h('th', {}, t)))), tbody),
      pager));

    async function bulk(action) {
      fill(bulkHost, h('div', { class: 'confirm' }, 'Finding matching jobs…'));
      const ids = [];
      let cursor = '';
      do {
        const p = await listJobs(status, cursor, 1000);
        for (const j of p.jobs) {
          if (action === 'cancel' ? !FINAL.includes(j.status) : (j.status === 'failed' || j.status === 'canceled')) ids.push(j.id);
        }
        cursor = p.next_cursor || '';
      } while (cursor);
      if (ids.length === 0) { fill(bulkHost); notice('No matching jobs to ' + action + '.', 'info'); return; }
      confirmBar(bulkHost, (action === 'cancel' ? 'Cancel ' : 'Retry ') + ids.length + ' matching job' + (ids.length === 1 ? '' : 's') + '?', action === 'cancel' ? 'Cancel them' : 'Retry them', async () => {
        let ok = 0, failed = 0, next = 0;
        const worker = async () => {
          while (next < ids.length) {
            const id = ids[next++];
            try { await call('POST', '/v1/jobs/' + encodeURIComponent(id) + '/' + action); ok++; } catch (e) { failed++; }
            notice((action === 'cancel' ? 'Canceling' : 'Retrying') + '… ' + (ok + failed) + ' of ' + ids.length, 'info');
          }
        };
        await Promise.all([worker(), worker(), worker(), worker()]);
        notice((action === 'cancel' ? 'Canceled ' : 'Retried ') + ok + ' job' + (ok === 1 ? '' : 's') + (failed ? '; ' + failed + ' had changed state and were skipped' : '') + '.', failed ? 'error' : 'ok');
        await load();
      });
    }

    let nextCursor = '';
    async function load() {
      const res = await listJobs(status, cursors[page]);
      nextCursor = res.next_cursor || '';
      fill(tbody, ...(res.jobs.length === 0 ? [h('tr', {}, h('td', { colspan: 8, class: 'empty' }, 'No jobs' + (status ? ' with status ' + status : '') + '.'))] :
        res.jobs.map((j) => h('tr', { 'data-job': j.id },
          h('td', {}, h('a', { href: '#/jobs/' + encodeURIComponent(j.id), class: 'mono', title: j.id }, shortID(j.id))),
          h('td', {}, badge(j.status)),
          h('td', {}, j.stage || '—'),
          h('td', {}, progress(j)),
          h('td', { class: 'src', title: source(j) }, source(j)),
          h('td', {}, j.tenant),
          h('td', {}, when(j.created_at)),
          h('td', { class: 'actions' },
            !FINAL.includes(j.status) ? h('button', { type: 'button', class: 'small danger', 'data-action': 'cancel', onclick: async () => { await jobAction(j.id, 'cancel'); load(); } }, 'Cancel') : null,
            (j.status === 'failed' || j.status === 'canceled') ? h('button', { type: 'button', class: 'small', 'data-action': 'retry', onclick: async () => { await jobAction(j.id, 'retry'); load(); } }, 'Retry') : null)))));
      fill(pager,
        h('button', { type: 'button', class: 'ghost', disabled: page === 0, onclick: () => { page--; load(); } }, '← Newer'),
        h('span', { class: 'muted' }, 'Page ' + (page + 1)),
        h('button', { type: 'button', class: 'ghost', disabled: !nextCursor, onclick: () => { cursors[page + 1] = nextCursor; page++; load(); } }, 'Older →'));
    }
    return poll(load, 5000);
  }

  // Job detail: everything the API says about one job, live until final.
  function job(params) {
    const id = params.get('id');
    const root = h('section', {}, h('p', {}, h('a', { href: '#/jobs' }, '← Jobs')));
    const body = h('div', { id: 'job-detail' });
    root.append(body);
    view().append(root);
    let stopped = false, timer = null;
    async function load() {
      let j, tasks;
      try {
        [j, { tasks }] = await Promise.all([call('GET', '/v1/jobs/' + encodeURIComponent(id)),
          call('GET', '/v1/jobs/' + encodeURIComponent(id) + '/tasks')]);
      } catch (e) {
        if (e.status === 404) { fill(body, h('p', { class: 'error' }, 'No such job.')); return; }
        throw e;
      }
      const r = j.result;
      const fact = (k, v) => [h('dt', {}, k), h('dd', {}, v === undefined || v === null || v === '' ? '—' : v)];
      const actions = h('div', { class: 'toolbar' },
        !FINAL.includes(j.status) ? h('button', { id: 'job-cancel', type: 'button', class: 'danger', onclick: async () => { await jobAction(j.id, 'cancel'); load(); } }, 'Cancel job') : null,
        (j.status === 'failed' || j.status === 'canceled') ? h('button', { id: 'job-retry', type: 'button', onclick: async () => { await jobAction(j.id, 'retry'); load(); } }, 'Retry job') : null);
      const base = '/v1/jobs/' + encodeURIComponent(j.id) + '/captions?format=';
      fill(body,
        h('h2', {}, 'Job ', h('span', { class: 'mono' }, j.id), ' ', h('span', { id: 'job-status' }, badge(j.status))),
        actions,
        j.error ? h('div', { class: 'errorbox ' + j.status }, h('code', {}, j.error.code), ' ', j.error.message) : null,
        h('div', { class: 'split' },
          h('div', { class: 'panel' }, h('h3', {}, 'Status'), h('dl', { class: 'facts' },
            fact('status', j.status), fact('stage', j.stage), fact('progress', progress(j)), fact('attempts', String(j.attempts)),
            fact('chunks', j.chunks ? j.chunks.done + ' of ' + j.chunks.total + ' transcribed' : null),
            fact('created', when(j.created_at)), fact('updated', when(j.updated_at)), fact('finished', j.finished_at ? when(j.finished_at) : null))),
          h('div', { class: 'panel' }, h('h3', {}, 'Request'), h('dl', { class: 'facts' },
            fact('source', source(j)), fact('tenant', j.tenant), fact('language', j.language), fact('task', j.task), fact('model', j.model),
            fact('priority', String(j.priority)), fact('captions', j.captions), fact('cache', String(j.cache)),
            fact('chunk length', j.chunk_seconds ? dur(j.chunk_seconds) : 'never split'), fact('webhook', j.webhook_url)))),
        taskTable(tasks),
        r ? h('div', { class: 'panel' }, h('h3', {}, 'Result'),
          h('dl', { class: 'facts' }, fact('language', r.language), fact('duration', r.duration ? dur(r.duration) : null),
            fact('engine', [r.engine, r.model].filter(Boolean).join(' / ')), fact('origin', r.origin), fact('cached', String(r.cached)),
            fact('segments', String(r.segments)), fact('words', String(r.words)), fact('title', r.title),
            fact('timings', r.timings ? Object.entries(r.timings).map(([k, v]) => k + ' ' + v.toFixed(1) + 's').join(', ') : null))) : null,
        j.status === 'succeeded' ? h('div', { class: 'panel' }, h('h3', {}, 'Captions'), h('p', { class: 'downloads' },
          ['srt', 'vtt', 'json', 'txt'].map((f) => h('a', { class: 'button', href: base + f, download: j.id + '.' + f }, f.toUpperCase())))) : null,
        j.metadata ? h('div', { class: 'panel' }, h('h3', {}, 'Metadata'), h('pre', {}, JSON.stringify(j.metadata, null, 2))) : null);
      if (!stopped && !FINAL.includes(j.status)) timer = setTimeout(() => load().catch((e) => notice(e.message, 'error')), 2000);
    }
    load().catch((e) => { if (e.status !== 401) notice(e.message, 'error'); });
    return () => { stopped = true; clearTimeout(timer); };
  }

  // The tasks of a job: what ran where, and for how long.
  function taskTable(tasks) {
    const span = (c) => c ? '#' + c.index + ' ' + clock(c.start) + '–' + clock(c.end) : '—';
    const took = (t) => t.started_at && t.finished_at ? dur((new Date(t.finished_at) - new Date(t.started_at)) / 1000) : '—';
    return h('div', { class: 'panel' }, h('h3', {}, 'Tasks'),
      h('table', { class: 'tasks' }, h('thead', {}, h('tr', {}, ['Kind', 'Chunk', 'Status', 'Agent', 'Attempts', 'Time'].map((t) => h('th', {}, t)))),
        h('tbody', { id: 'tasks-body' }, tasks.map((t) => h('tr', { 'data-task': t.id, 'data-kind': t.kind },
          h('td', {}, t.kind),
          h('td', { class: 'mono' }, span(t.chunk)),
          h('td', {}, badge(t.status), t.stage && t.status === 'leased' ? h('span', { class: 'muted small' }, ' ' + t.stage) : null,
            t.error ? h('div', { class: 'muted small' }, h('code', {}, t.error.code), ' ', t.error.message) : null),
          h('td', {}, t.agent_id ? h('span', { class: 'mono', title: t.agent_id }, shortID(t.agent_id)) : '—'),
          h('td', {}, String(t.attempts)),
          h('td', {}, took(t)))))));
  }

  // Fleet: every agent, its state, capabilities, load and last heartbeat.
  function fleet() {
    const host = h('div', { class: 'bulk-host' });
    const tbody = h('tbody', { id: 'agents-body' });
    const summary = h('p', { class: 'muted' });
    view().append(h('section', {}, h('h2', {}, 'Fleet'), summary, host,
      h('table', { class: 'agents' }, h('thead', {}, h('tr', {}, ['Agent', 'State', 'Capabilities', 'Labels', 'Tasks', 'Last heartbeat', ''].map((t) => h('th', {}, t)))), tbody)));
    async function act(a, action) {
      try {
        const r = await call('POST', '/v1/agents/' + encodeURIComponent(a.id) + '/' + action);
        notice('Agent ' + a.name + ' is now ' + r.state + '.', 'ok');
      } catch (e) {
        if (e.status !== 401) notice('Could not ' + action + ' ' + a.name + ': ' + e.message, 'error');
      }
      await load();
    }
    async function load() {
      let agents;
      try { ({ agents } = await call('GET', '/v1/agents')); } catch (e) {
        if (e.status === 403) { summary.textContent = 'Your role (' + (me ? me.role : '?') + ') cannot see the fleet.'; return; }
        throw e;
      }
      const live = agents.filter((a) => a.state === 'active' || a.state === 'draining');
      summary.textContent = agents.length + ' agent' + (agents.length === 1 ? '' : 's') + ' · ' + live.length + ' online · ' +
        live.reduce((n, a) => n + a.active_tasks, 0) + ' of ' + live.reduce((n, a) => n + ((a.capabilities && a.capabilities.slots) || 0), 0) + ' slots busy';
      fill(tbody, ...(agents.length === 0 ? [h('tr', {}, h('td', { colspan: 7, class: 'empty' }, 'No agents. Enroll one with: ytcaption agents enroll'))] :
        agents.map((a) => {
          const c = a.capabilities || {};
          const engines = (c.engines || []).map((e) => e.name + (e.models && e.models.length ? ' (' + e.models.join(', ') + ')' : '')).join('; ');
          const gpus = (c.gpus || []).map((g) => g.name + (g.memory_mb ? ' ' + Math.round(g.memory_mb / 1024) + ' GB' : '')).join(', ');
          return h('tr', { 'data-agent': a.id },
            h('td', {}, h('div', {}, a.name), h('div', { class: 'mono muted small', title: a.id }, shortID(a.id)), a.hostname ? h('div', { class: 'muted small' }, a.hostname + (a.version ? ' · ' + a.version : '')) : null),
            h('td', {}, badge(a.state)),
            h('td', {}, h('div', {}, engines || '—'), gpus ? h('div', { class: 'muted small' }, 'GPU: ' + gpus) : h('div', { class: 'muted small' }, 'CPU'),
              (c.languages && c.languages.length) ? h('div', { class: 'muted small' }, 'languages: ' + c.languages.join(', ')) : null,
              (c.kinds && c.kinds.length) ? h('div', { class: 'muted small' }, 'tasks: ' + c.kinds.join(', ')) : null),
            h('td', {}, Object.entries(c.labels || {}).map(([k, v]) => h('span', { class: 'chip' }, k + '=' + v))),
            h('td', {}, a.active_tasks + ' / ' + (c.slots || 0)),
            h('td', {}, when(a.last_seen_at)),
            h('td', { class: 'actions' },
              a.state === 'revoked' ? null : (a.state === 'draining'
                ? h('button', { type: 'button', class: 'small', 'data-action': 'resume', onclick: () => act(a, 'resume') }, 'Resume')
                : h('button', { type: 'button', class: 'small', 'data-action': 'drain', onclick: () => act(a, 'drain') }, 'Drain')),
              a.state === 'revoked' ? null : h('button', { type: 'button', class: 'small danger', 'data-action': 'revoke', onclick: () => confirmBar(host, 'Revoke ' + a.name + '? It is cut off at once and its tasks are requeued; it must enroll again.', 'Revoke', () => act(a, 'revoke')) }, 'Revoke')));
        })));
    }
    return poll(load, 5000);
  }

  // ---- start -------------------------------------------------------------
  document.getElementById('logout').addEventListener('click', async () => {
    await fetch('/console/logout', { method: 'POST', credentials: 'same-origin', headers: { 'Accept': 'application/json', 'X-CSRF-Token': csrf() } }).catch(() => null);
    location.href = '/console/login';
  });
  fetch('/console/session', { credentials: 'same-origin' }).then(async (r) => {
    if (r.status === 401) { location.href = '/console/login?expired=1'; return; }
    me = await r.json();
    document.getElementById('who').textContent = me.tenant + ' · ' + me.role;
    if (me.role !== 'admin' && me.role !== 'operator') document.querySelector('#nav a[data-view="fleet"]').hidden = true;
  }).catch(() => null);
  window.addEventListener('hashchange', route);
  route();
})();
