// Shared pieces of the console's pages: DOM building, the API client (session
// cookie plus the ytc_csrf double-submit header), formatting and in-place
// notices. Every value from the API goes into the page as text, never HTML.

export const FINAL = ['succeeded', 'failed', 'canceled'];
export const STATUSES = ['queued', 'running', 'succeeded', 'failed', 'canceled'];

// h builds an element: attributes (on* become listeners, text sets
// textContent, false/null/undefined are skipped) and children.
export function h(tag, attrs, ...kids) {
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
export function fill(e, ...kids) {
  e.replaceChildren(...nodes(kids));
  return e;
}

export const view = () => document.getElementById('view');

// notice shows a message in the bar under the header; errors stay until the
// next one, the rest fade after a few seconds.
export function notice(msg, kind) {
  const n = document.getElementById('notice');
  n.textContent = msg;
  n.className = 'notice ' + (kind || 'info');
  n.hidden = !msg;
  clearTimeout(notice.t);
  if (msg && kind !== 'error') notice.t = setTimeout(() => { n.hidden = true; }, 6000);
}

// errorBox is an error shown in place, where the data would have been.
export const errorBox = (e) => h('p', { class: 'error inline-error', role: 'alert' }, e.message || String(e));

// ---- API -------------------------------------------------------------------

export function csrf() {
  for (const part of document.cookie.split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === 'ytc_csrf') return decodeURIComponent(v.join('='));
  }
  return '';
}

// call makes an API request; errors carry the API's status and code.
export async function call(method, path, body) {
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

export const enc = encodeURIComponent;

export function listJobs(status, cursor, limit) {
  const q = new URLSearchParams({ limit: String(limit || 25) });
  if (status) q.set('status', status);
  if (cursor) q.set('cursor', cursor);
  return call('GET', '/v1/jobs?' + q);
}

// poll runs fn now and every ms until stopped; errors go to the notice bar.
export function poll(fn, ms) {
  let timer = null, alive = true;
  const tick = async () => {
    try { await fn(); } catch (e) { if (e.status !== 401) notice(e.message, 'error'); }
    if (alive) timer = setTimeout(tick, ms);
  };
  tick();
  return () => { alive = false; clearTimeout(timer); };
}

// stream follows a server-sent event stream, calling onData with each
// event's parsed JSON; EventSource reconnects by itself. state() reports
// 'live', 'connecting' or 'error' to the page's indicator.
export function stream(url, event, onData, state) {
  const es = new EventSource(url, { withCredentials: true });
  state('connecting');
  es.addEventListener('open', () => state('live'));
  es.addEventListener('error', () => state(es.readyState === EventSource.CLOSED ? 'error' : 'connecting'));
  es.addEventListener(event, (ev) => {
    let data;
    try { data = JSON.parse(ev.data); } catch (e) { return; }
    state('live');
    onData(data);
  });
  return () => es.close();
}

// ---- formatting -------------------------------------------------------------

export function dur(s) {
  if (!isFinite(s)) return '—';
  if (s < 1) return Math.round(s * 1000) + ' ms';
  if (s < 60) return (s < 10 ? s.toFixed(1) : Math.round(s)) + ' s';
  if (s < 3600) return Math.floor(s / 60) + 'm ' + Math.round(s % 60) + 's';
  if (s < 86400) return Math.floor(s / 3600) + 'h ' + Math.floor((s % 3600) / 60) + 'm';
  return Math.floor(s / 86400) + 'd ' + Math.floor((s % 86400) / 3600) + 'h';
}
function ago(ts) {
  if (!ts) return '—';
  return dur(Math.max(0, (Date.now() - new Date(ts).getTime()) / 1000)) + ' ago';
}
export function clock(s) {
  const m = Math.floor(s / 60);
  return m + ':' + (s - m * 60).toFixed(1).padStart(4, '0');
}
export const when = (ts) => h('span', { title: ts ? new Date(ts).toLocaleString() : '' }, ago(ts));
export const badge = (status) => h('span', { class: 'badge ' + status }, status);
export const shortID = (id) => (id && id.length > 13 ? id.slice(0, 8) + '…' + id.slice(-4) : id || '—');

export function source(j) {
  const s = j.source || {};
  if (s.url) return s.url;
  if (s.filename) return s.filename + ' (upload)';
  return '—';
}

export function progress(j) {
  const p = Math.round((j.progress || 0) * 100);
  const bar = h('div', { class: 'bar ' + j.status });
  bar.style.width = p + '%'; // CSSOM, which the style CSP allows; a style attribute it would not
  return h('div', { class: 'progress', title: p + '%' }, bar, h('span', {}, p + '%'));
}

// facts is a definition list of [label, value] pairs; empty values show a dash.
export function facts(pairs) {
  return h('dl', { class: 'facts' }, pairs.map(([k, v]) => [h('dt', {}, k), h('dd', {}, v === undefined || v === null || v === '' ? '—' : v)]));
}

export const panel = (title, ...kids) => h('div', { class: 'panel' }, title ? h('h3', {}, title) : null, ...kids);

// confirmBar shows an inline confirmation instead of a modal dialog.
export function confirmBar(host, text, label, run) {
  const yes = h('button', { class: 'danger', type: 'button', onclick: async (ev) => { ev.target.disabled = true; await run(); fill(host); } }, label);
  fill(host, h('div', { class: 'confirm', role: 'alertdialog' }, h('span', {}, text), yes,
    h('button', { class: 'ghost', type: 'button', onclick: () => fill(host) }, 'Dismiss')));
  yes.focus();
}

// table builds a table with a header row and a tbody with the given id.
export function table(cls, headers, bodyID) {
  const tbody = h('tbody', { id: bodyID });
  return [h('div', { class: 'table-wrap' }, h('table', { class: cls }, h('thead', {}, h('tr', {}, headers.map((t) => h('th', { scope: 'col' }, t)))), tbody)), tbody];
}

// emptyRow is a table's one row when there is nothing to list.
export const emptyRow = (cols, text) => h('tr', {}, h('td', { colspan: cols, class: 'empty' }, text));

// role of the signed-in key, set once the session is known.
export const session = { role: '', tenant: '' };
export const isAdmin = () => session.role === 'admin';
export const canFleet = () => session.role === 'admin' || session.role === 'operator';
