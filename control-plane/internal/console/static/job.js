// Job page: the job as a story. Its facts and actions; a waterfall of every
// attempt of every task (queue wait, each agent's lease, its stages, retries
// with their errors); the media in a player with the captions as a <track>
// and the transcript beside it, following the playback; the task table. It
// follows the job's event stream until the job is final.
import { h, fill, view, call, enc, notice, dur, clock, when, badge, shortID, source, progress, facts, panel, FINAL, canFleet, errorBox } from './core.js';

export function job(params) {
  const id = params.get('id');
  const base = '/v1/jobs/' + enc(id);
  const head = h('div', { id: 'job-head' });
  const summary = h('div', { class: 'split', id: 'job-summary' });
  const story = h('div', { id: 'job-story' });
  const player = h('div', { id: 'job-player' });
  const tasksHost = h('div', { id: 'job-tasks' });
  const extra = h('div', { id: 'job-extra' });
  view().append(h('section', {}, h('p', {}, h('a', { href: '#/jobs' }, '← Jobs')), head, summary,
    panel('Timeline', story), player, tasksHost, extra));

  let names = {}; // agent id → name, for the roles that may list agents
  let playerShown = false, closed = false, es = null, pending = null;

  async function load() {
    let j, tasks;
    try {
      [j, { tasks }] = await Promise.all([call('GET', base), call('GET', base + '/tasks')]);
    } catch (e) {
      if (e.status === 404) { fill(head, h('p', { class: 'error' }, 'No such job.')); return null; }
      throw e;
    }
    if (canFleet() && tasks.some((t) => t.agent_id && !names[t.agent_id])) {
      try {
        const { agents } = await call('GET', '/v1/agents');
        names = Object.fromEntries(agents.map((a) => [a.id, a.name]));
      } catch (e) { /* names are a nicety */ }
    }
    renderHead(j);
    renderSummary(j);
    fill(story, ...timeline(j, tasks, names));
    fill(tasksHost, taskTable(tasks, names));
    renderExtra(j);
    if (j.status === 'succeeded' && !playerShown) {
      playerShown = true;
      mediaPanel(j, player);
    }
    return j;
  }

  function renderHead(j) {
    const act = async (action) => {
      try {
        const r = await call('POST', base + '/' + action);
        notice('Job ' + shortID(id) + ' is now ' + r.status + '.', 'ok');
      } catch (e) {
        if (e.status !== 401) notice('Could not ' + action + ' job ' + shortID(id) + ': ' + e.message, 'error');
      }
      refresh();
    };
    fill(head,
      h('h2', {}, 'Job ', h('span', { class: 'mono' }, j.id), ' ', h('span', { id: 'job-status' }, badge(j.status))),
      h('div', { class: 'toolbar' },
        !FINAL.includes(j.status) ? h('button', { id: 'job-cancel', type: 'button', class: 'danger', onclick: () => act('cancel') }, 'Cancel job') : null,
        (j.status === 'failed' || j.status === 'canceled') ? h('button', { id: 'job-retry', type: 'button', onclick: () => act('retry') }, 'Retry job') : null,
        j.status === 'succeeded' ? h('span', { class: 'downloads' }, ['srt', 'vtt', 'json', 'txt'].map((f) =>
          h('a', { class: 'button ghost', href: base + '/captions?format=' + f, download: j.id + '.' + f }, f.toUpperCase()))) : null),
      j.error ? h('div', { class: 'errorbox ' + j.status, id: 'job-error' }, h('code', {}, j.error.code), ' ', j.error.message) : null);
  }

  function renderSummary(j) {
    const total = j.finished_at ? (Date.parse(j.finished_at) - Date.parse(j.created_at)) / 1000 : null;
    fill(summary,
      panel('Status', facts([['status', j.status], ['stage', j.stage], ['progress', progress(j)], ['attempts', String(j.attempts)],
        ['chunks', j.chunks ? j.chunks.done + ' of ' + j.chunks.total + ' transcribed' : null],
        ['created', when(j.created_at)], ['finished', j.finished_at ? when(j.finished_at) : null], ['took', total !== null ? dur(total) : null]])),
      panel('Request', facts([['source', h('span', { class: 'clip', title: source(j) }, source(j))], ['tenant', j.tenant], ['language', j.language],
        ['task', j.task], ['model', j.model], ['priority', String(j.priority)], ['captions', j.captions],
        ['chunk length', j.chunk_seconds ? dur(j.chunk_seconds) : 'never split'], ['webhook', j.webhook_url]])));
  }

  function renderExtra(j) {
    const r = j.result;
    fill(extra,
      r ? panel('Result', facts([['language', r.language], ['duration', r.duration ? dur(r.duration) : null],
        ['engine', [r.engine, r.model].filter(Boolean).join(' / ')], ['origin', r.origin], ['cached', String(r.cached)],
        ['segments', String(r.segments)], ['words', String(r.words)], ['title', r.title],
        ['timings', r.timings ? Object.entries(r.timings).map(([k, v]) => k + ' ' + v.toFixed(1) + 's').join(', ') : null]])) : null,
      j.metadata ? panel('Metadata', h('pre', {}, JSON.stringify(j.metadata, null, 2))) : null);
  }

  // Reload on the job's events, coalesced; stop following once it is final.
  function refresh() {
    if (pending || closed) return;
    pending = setTimeout(async () => {
      pending = null;
      try {
        const j = await load();
        if (!j || FINAL.includes(j.status)) follow(false);
        else follow(true);
      } catch (e) { if (e.status !== 401) notice(e.message, 'error'); }
    }, 150);
  }
  function follow(on) {
    if (on && !es && !closed) {
      es = new EventSource(base + '/events', { withCredentials: true });
      for (const s of ['queued', 'running', 'succeeded', 'failed', 'canceled']) es.addEventListener(s, refresh);
    } else if (!on && es) {
      es.close();
      es = null;
    }
  }
  refresh();
  return () => { closed = true; clearTimeout(pending); follow(false); };
}

// ---- timeline -----------------------------------------------------------------

const kindOrder = { prepare: 0, caption: 0, transcribe: 1, merge: 2 };


function taskLabel(t) {
  if (t.chunk) return 'chunk ' + t.chunk.index + ' · ' + clock(t.chunk.start) + '–' + clock(t.chunk.end);
  return t.kind;
}

// timeline draws the waterfall (one row per task, one bar per attempt with
// its stages) and the story in words beneath it.
function timeline(j, tasks, names) {
  const t0 = Date.parse(j.created_at);
  const running = !FINAL.includes(j.status);
  const ordered = tasks.slice().sort((a, b) => (kindOrder[a.kind] - kindOrder[b.kind]) || ((a.chunk ? a.chunk.index : 0) - (b.chunk ? b.chunk.index : 0)));
  const runs = ordered.flatMap((t) => t.runs.map((r) => ({ t, r })));
  let t1 = j.finished_at ? Date.parse(j.finished_at) : Date.now();
  for (const { r } of runs) t1 = Math.max(t1, r.ended_at ? Date.parse(r.ended_at) : Date.now());
  const span = Math.max(1, t1 - t0);
  const pct = (ms) => Math.min(100, Math.max(0, 100 * (ms - t0) / span));
  const agent = (id) => (id ? names[id] || shortID(id) : '—');

  const bar = (cls, from, to, title, label) => {
    const b = h('div', { class: 'wf-bar ' + cls, title }, label ? h('span', {}, label) : null);
    b.style.left = pct(from) + '%';
    b.style.width = Math.max(0.4, pct(to) - pct(from)) + '%';
    return b;
  };

  const rows = [];
  const firstStart = runs.length ? Math.min(...runs.map(({ r }) => Date.parse(r.started_at))) : (running ? Date.now() : t1);
  rows.push(h('div', { class: 'wf-row', 'data-row': 'queue' }, h('div', { class: 'wf-label' }, 'queued'),
    h('div', { class: 'wf-track' }, bar('wait', t0, firstStart, 'waited ' + dur((firstStart - t0) / 1000) + ' for an agent', dur((firstStart - t0) / 1000)))));
  for (const t of ordered) {
    const track = h('div', { class: 'wf-track' });
    for (const r of t.runs) {
      const s = Date.parse(r.started_at), e = r.ended_at ? Date.parse(r.ended_at) : Date.now();
      const marks = r.stages || [];
      const run = bar('run ' + (r.outcome || ''), s, e, 'attempt ' + r.attempt + ' on ' + agent(r.agent_id) + ': ' + (r.outcome || '') + ', ' + dur((e - s) / 1000) +
        (r.error ? ' — ' + r.error.code + ': ' + r.error.message : ''), null);
      run.dataset.attempt = r.attempt;
      run.dataset.outcome = r.outcome || '';
      // Stage segments inside the attempt's bar, as shares of its length.
      marks.forEach((m, i) => {
        const ms = Date.parse(m.at), me = i + 1 < marks.length ? Date.parse(marks[i + 1].at) : e;
        const seg = h('div', { class: 'wf-stage stage-' + m.stage, title: m.stage + ' ' + dur((me - ms) / 1000) });
        seg.style.left = (100 * (ms - s) / Math.max(1, e - s)) + '%';
        seg.style.width = Math.max(0.5, 100 * (me - ms) / Math.max(1, e - s)) + '%';
        run.append(seg);
      });
      run.append(h('span', { class: 'wf-agent' }, agent(r.agent_id)));
      track.append(run);
    }
    rows.push(h('div', { class: 'wf-row', 'data-row': t.id, 'data-kind': t.kind }, h('div', { class: 'wf-label', title: t.id }, taskLabel(t)), track));
  }
  const axis = h('div', { class: 'wf-axis' }, [0, 0.25, 0.5, 0.75, 1].map((f) => {
    const tick = h('span', {}, dur((span * f) / 1000));
    tick.style.left = (f * 100) + '%';
    return tick;
  }));
  const stagesSeen = [...new Set(runs.flatMap(({ r }) => (r.stages || []).map((m) => m.stage)))];
  const legend = h('div', { class: 'wf-legend' }, h('span', { class: 'key wait' }, 'waiting'), stagesSeen.map((s) => h('span', { class: 'key stage-' + s }, s)),
    h('span', { class: 'key failed' }, 'failed attempt'));

  // The same story in words, in time order.
  const events = [{ at: t0, text: 'submitted', cls: 'submitted' }];
  for (const { t, r } of runs) {
    const s = Date.parse(r.started_at);
    events.push({ at: s, text: taskLabel(t) + ': attempt ' + r.attempt + ' leased by ' + agent(r.agent_id), cls: 'leased' });
    const marks = r.stages || [];
    const end = r.ended_at ? Date.parse(r.ended_at) : null;
    marks.forEach((m, i) => {
      const me = i + 1 < marks.length ? Date.parse(marks[i + 1].at) : end;
      events.push({ at: Date.parse(m.at), text: taskLabel(t) + ': ' + m.stage + (me !== null ? ' (' + dur((me - Date.parse(m.at)) / 1000) + ')' : ' …'), cls: 'stage' });
    });
    if (end !== null) {
      events.push({ at: end, text: taskLabel(t) + ': attempt ' + r.attempt + ' ' + r.outcome + ' after ' + dur((end - s) / 1000) +
        (r.error ? ' — ' + r.error.code + ': ' + r.error.message : ''), cls: r.outcome });
    }
  }
  if (j.finished_at) events.push({ at: Date.parse(j.finished_at), text: 'job ' + j.status + (j.error ? ': ' + j.error.code : ''), cls: j.status });
  events.sort((a, b) => a.at - b.at);
  const list = h('ol', { class: 'story', id: 'job-events' }, events.map((e) => h('li', { class: e.cls },
    h('span', { class: 'mono muted' }, '+' + dur((e.at - t0) / 1000)), ' ', e.text)));
  return [h('div', { class: 'waterfall', id: 'waterfall' }, rows, h('div', { class: 'wf-row' }, h('div', { class: 'wf-label' }), axis)), legend, list];
}

// ---- media and transcript ------------------------------------------------------

// mediaPanel puts the job's media in a player with the WebVTT captions as a
// track, and the cues beside it: the one under currentTime is highlighted,
// clicking one seeks there.
async function mediaPanel(j, host) {
  const base = '/v1/jobs/' + enc(j.id);
  const vttURL = base + '/captions?format=vtt';
  const cueList = h('ol', { class: 'cues', id: 'cues', 'aria-label': 'Transcript' });
  const playerBox = h('div', { class: 'player-box' });
  fill(host, panel('Media and captions', h('div', { class: 'player' }, playerBox, h('div', { class: 'cue-pane' }, cueList))));

  let cues;
  try {
    const r = await fetch(vttURL, { credentials: 'same-origin' });
    if (!r.ok) throw new Error('captions: HTTP ' + r.status);
    cues = parseVTT(await r.text());
  } catch (e) {
    fill(cueList, h('li', {}, errorBox(e)));
    return;
  }
  const items = cues.map((c, i) => h('li', { 'data-i': i, 'data-start': c.start, tabindex: 0 },
    h('span', { class: 'mono muted' }, clock(c.start)), ' ', c.text));
  fill(cueList, items);

  let media;
  try {
    media = await call('GET', base + '/media?format=json');
  } catch (e) {
    fill(playerBox, h('p', { class: 'muted', id: 'media-missing' }, 'No playable media: ' + e.message));
    return;
  }
  const video = h('video', { id: 'player', controls: true, preload: 'metadata', src: media.url },
    h('track', { kind: 'captions', srclang: j.language || (j.result && j.result.language) || 'en', label: 'Captions', src: vttURL, default: true }));
  fill(playerBox, video);

  let active = -1;
  const sync = () => {
    const t = video.currentTime;
    let i = -1;
    for (let k = 0; k < cues.length; k++) { if (cues[k].start <= t && t < cues[k].end) { i = k; break; } }
    if (i === active) return;
    if (active >= 0) { items[active].classList.remove('active'); items[active].removeAttribute('aria-current'); }
    active = i;
    if (i >= 0) {
      items[i].classList.add('active');
      items[i].setAttribute('aria-current', 'true');
      // Scroll the transcript pane only, never the page.
      const pane = cueList.parentElement;
      const top = items[i].offsetTop - pane.offsetTop;
      if (top < pane.scrollTop || top > pane.scrollTop + pane.clientHeight - items[i].offsetHeight) pane.scrollTop = top - 8;
    }
    cueList.dataset.active = String(i);
  };
  for (const ev of ['timeupdate', 'seeked', 'play']) video.addEventListener(ev, sync);
  const seek = (li) => { video.currentTime = Number(li.dataset.start) + 0.01; video.play().catch(() => null); sync(); };
  items.forEach((li) => {
    li.addEventListener('click', () => seek(li));
    li.addEventListener('keydown', (ev) => { if (ev.key === 'Enter' || ev.key === ' ') { ev.preventDefault(); seek(li); } });
  });
}

// parseVTT reads the cues of a WebVTT document: start, end and text.
export function parseVTT(text) {
  const out = [];
  const ts = (s) => {
    const p = s.trim().split(':').map(Number);
    return p.length === 3 ? p[0] * 3600 + p[1] * 60 + p[2] : p[0] * 60 + p[1];
  };
  for (const block of text.replace(/\r/g, '').split(/\n\n+/)) {
    const lines = block.split('\n');
    const k = lines.findIndex((l) => l.includes('-->'));
    if (k < 0) continue;
    const [a, b] = lines[k].split('-->');
    out.push({ start: ts(a), end: ts(b.trim().split(/\s+/)[0]), text: lines.slice(k + 1).join(' ').replace(/<[^>]*>/g, '') });
  }
  return out;
}

// ---- tasks ------------------------------------------------------------------

function taskTable(tasks, names) {
  const span = (c) => (c ? '#' + c.index + ' ' + clock(c.start) + '–' + clock(c.end) : '—');
  const took = (t) => (t.started_at && t.finished_at ? dur((new Date(t.finished_at) - new Date(t.started_at)) / 1000) : '—');
  return panel('Tasks', h('div', { class: 'table-wrap' }, h('table', { class: 'tasks' },
    h('thead', {}, h('tr', {}, ['Kind', 'Chunk', 'Status', 'Agent', 'Attempts', 'Time'].map((t) => h('th', { scope: 'col' }, t)))),
    h('tbody', { id: 'tasks-body' }, tasks.map((t) => h('tr', { 'data-task': t.id, 'data-kind': t.kind },
      h('td', {}, t.kind),
      h('td', { class: 'mono' }, span(t.chunk)),
      h('td', {}, badge(t.status), t.stage && t.status === 'leased' ? h('span', { class: 'muted small' }, ' ' + t.stage) : null,
        t.error ? h('div', { class: 'muted small' }, h('code', {}, t.error.code), ' ', t.error.message) : null),
      h('td', {}, t.agent_id ? h('span', { title: t.agent_id }, names[t.agent_id] || shortID(t.agent_id)) : '—'),
      h('td', {}, String(t.attempts)),
      h('td', {}, took(t))))))));
}
