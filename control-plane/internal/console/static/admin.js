// Administration: API keys, tenants' shares, enrollment tokens, webhook
// endpoints and deliveries, and the audit log. Each section shows only to the
// roles whose keys may call its API; the API decides in the end.
import { h, fill, view, call, enc, notice, when, badge, shortID, confirmBar, table, emptyRow, session, isAdmin, canFleet, errorBox } from './core.js';

const SECTIONS = [
  { id: 'keys', title: 'API keys', allowed: isAdmin, render: keys },
  { id: 'tenants', title: 'Tenants', allowed: isAdmin, render: tenants },
  { id: 'enrollments', title: 'Enrollment tokens', allowed: canFleet, render: enrollments },
  { id: 'webhooks', title: 'Webhooks', allowed: () => session.role !== 'viewer', render: webhooks },
  { id: 'audit', title: 'Audit log', allowed: isAdmin, render: audit },
];

// canAdmin says whether the role sees the Administration page at all.
export const canAdmin = () => SECTIONS.some((s) => s.allowed());

export function admin(params) {
  const allowed = SECTIONS.filter((s) => s.allowed());
  if (allowed.length === 0) {
    view().append(h('section', {}, h('h2', {}, 'Administration'), h('p', { class: 'error', id: 'admin-denied' }, 'Your role (' + session.role + ') cannot administer anything.')));
    return () => {};
  }
  const cur = allowed.find((s) => s.id === params.get('section')) || allowed[0];
  const tabs = h('nav', { class: 'tabs', 'aria-label': 'Administration' }, allowed.map((s) =>
    h('a', { href: '#/admin?section=' + s.id, class: s === cur ? 'active' : '', 'aria-current': s === cur ? 'page' : false, 'data-section': s.id }, s.title)));
  const body = h('div', { id: 'admin-' + cur.id });
  view().append(h('section', {}, h('h2', {}, 'Administration'), tabs, body));
  return cur.render(body, params) || (() => {});
}

// once shows a secret that will not be shown again, with a copy button.
function once(host, what, secret, id) {
  const field = h('input', { id, class: 'mono secret', readonly: true, value: secret, 'aria-label': what, size: 60 });
  fill(host, h('div', { class: 'once', role: 'status' },
    h('strong', {}, 'Copy the ' + what + ' now: it is shown only once.'),
    h('div', { class: 'row' }, field, h('button', { type: 'button', class: 'small', onclick: async () => {
      field.select();
      try { await navigator.clipboard.writeText(secret); notice('Copied.', 'ok'); } catch (e) { notice('Select the text and copy it.', 'info'); }
    } }, 'Copy'), h('button', { type: 'button', class: 'small ghost', onclick: () => fill(host) }, 'Done'))));
  field.focus();
  field.select();
}

// form builds a labelled inline form; submit gets the values by name.
function form(id, fields, label, submit) {
  const inputs = {};
  const err = h('p', { class: 'error inline-error', role: 'alert', hidden: true });
  const f = h('form', { class: 'inline-form', id, onsubmit: async (ev) => {
    ev.preventDefault();
    err.hidden = true;
    const btn = f.querySelector('button[type=submit]');
    btn.disabled = true;
    try {
      await submit(Object.fromEntries(Object.entries(inputs).map(([k, e]) => [k, e.value.trim()])));
    } catch (e) {
      if (e.status !== 401) { err.textContent = e.message; err.hidden = false; }
    } finally { btn.disabled = false; }
  } },
  fields.map((fd) => {
    const e = fd.options
      ? h('select', { name: fd.name, id: id + '-' + fd.name }, fd.options.map((o) => h('option', { value: o, selected: o === fd.value }, o)))
      : h('input', { name: fd.name, id: id + '-' + fd.name, type: fd.type || 'text', placeholder: fd.placeholder || '', value: fd.value || '', required: fd.required, min: fd.min, step: fd.step, size: fd.size });
    inputs[fd.name] = e;
    return h('label', {}, h('span', {}, fd.label), e);
  }),
  h('button', { type: 'submit' }, label), err);
  return f;
}

// ---- keys ---------------------------------------------------------------------

function keys(body) {
  const secret = h('div', { id: 'key-secret' });
  const host = h('div', { class: 'bulk-host' });
  const [tbl, tbody] = table('keys', ['Key', 'Tenant', 'Role', 'Created', 'Expires', 'State', ''], 'keys-body');
  const create = form('key-form', [
    { name: 'tenant', label: 'Tenant', value: session.tenant, required: true, size: 14 },
    { name: 'role', label: 'Role', options: ['viewer', 'submitter', 'operator', 'admin'], value: 'submitter' },
    { name: 'name', label: 'Name', placeholder: 'what it is for', size: 18 },
    { name: 'days', label: 'Expires in days', type: 'number', min: 1, placeholder: 'never', size: 6 },
  ], 'Create key', async (v) => {
    const req = { tenant: v.tenant, role: v.role, name: v.name || undefined };
    if (v.days) req.expires_at = new Date(Date.now() + Number(v.days) * 86400e3).toISOString();
    const k = await call('POST', '/v1/keys', req);
    once(secret, 'key', k.key, 'new-key-secret');
    notice('Key ' + k.id + ' created for ' + k.tenant + ' (' + k.role + ').', 'ok');
    await load();
  });
  fill(body, h('div', { class: 'panel' }, h('h3', {}, 'New key'), create, secret), host, tbl);

  async function load() {
    const { keys } = await call('GET', '/v1/keys');
    keys.sort((a, b) => Date.parse(b.created_at) - Date.parse(a.created_at));
    fill(tbody, keys.length === 0 ? emptyRow(7, 'No keys.') : keys.map((k) => {
      const state = k.revoked_at ? 'revoked' : (k.expires_at && Date.parse(k.expires_at) < Date.now() ? 'expired' : 'active');
      return h('tr', { 'data-key': k.id },
        h('td', {}, h('div', { class: 'mono' }, k.id), k.name ? h('div', { class: 'muted small' }, k.name) : null),
        h('td', {}, k.tenant), h('td', {}, k.role), h('td', {}, when(k.created_at)),
        h('td', {}, k.expires_at ? new Date(k.expires_at).toLocaleString() : 'never'),
        h('td', {}, badge(state)),
        h('td', { class: 'actions' }, state === 'active' ? h('button', { type: 'button', class: 'small danger', 'data-action': 'revoke', onclick: () =>
          confirmBar(host, 'Revoke key ' + k.id + (k.name ? ' (' + k.name + ')' : '') + '? Every request and console session using it stops at once.', 'Revoke key', async () => {
            try { await call('POST', '/v1/keys/' + enc(k.id) + '/revoke'); notice('Key ' + k.id + ' revoked.', 'ok'); } catch (e) { notice('Could not revoke: ' + e.message, 'error'); }
            await load();
          }) }, 'Revoke') : null));
    }));
  }
  load().catch((e) => fill(tbody, h('tr', {}, h('td', { colspan: 7 }, errorBox(e)))));
}

// ---- tenants ------------------------------------------------------------------

function tenants(body) {
  const [tbl, tbody] = table('tenants', ['Tenant', 'Keys', 'Queued', 'Running', 'Succeeded', 'Failed', 'Weight', 'Max running', ''], 'tenants-body');
  fill(body, h('p', { class: 'muted' }, 'Fair share: a tenant\'s r-th ready task ranks (running + r − 1) / weight; a tenant at its maximum of running tasks gets no more until one ends (0: no cap).'), tbl);
  async function load() {
    const { tenants } = await call('GET', '/v1/tenants');
    fill(tbody, tenants.length === 0 ? emptyRow(9, 'No tenants yet.') : tenants.map((t) => {
      const jobs = t.jobs || {};
      const weight = h('input', { type: 'number', min: '0.01', step: 'any', value: String(t.weight), size: 5, 'aria-label': 'weight of ' + t.name, name: 'weight' });
      const cap = h('input', { type: 'number', min: '0', step: '1', value: String(t.max_running), size: 5, 'aria-label': 'max running of ' + t.name, name: 'max_running' });
      return h('tr', { 'data-tenant': t.name },
        h('td', {}, t.name), h('td', {}, String(t.keys || 0)), h('td', {}, String(jobs.queued || 0)), h('td', {}, String(jobs.running || 0)),
        h('td', {}, String(jobs.succeeded || 0)), h('td', {}, String(jobs.failed || 0)), h('td', {}, weight), h('td', {}, cap),
        h('td', { class: 'actions' }, h('button', { type: 'button', class: 'small', 'data-action': 'save', onclick: async () => {
          try {
            await call('PUT', '/v1/tenants/' + enc(t.name) + '/share', { weight: Number(weight.value), max_running: Number(cap.value) });
            notice('Share of ' + t.name + ' saved.', 'ok');
            await load();
          } catch (e) { if (e.status !== 401) notice('Could not save ' + t.name + ': ' + e.message, 'error'); }
        } }, 'Save')));
    }));
  }
  load().catch((e) => fill(tbody, h('tr', {}, h('td', { colspan: 9 }, errorBox(e)))));
}

// ---- enrollment tokens ------------------------------------------------------------

function enrollments(body) {
  const secret = h('div', { id: 'enrollment-secret' });
  const host = h('div', { class: 'bulk-host' });
  const [tbl, tbody] = table('enrollments', ['Token', 'Labels', 'Uses', 'Created', 'Expires', 'State', ''], 'enrollments-body');
  const create = form('enrollment-form', [
    { name: 'labels', label: 'Labels', placeholder: 'gpu=a100,zone=eu', size: 20 },
    { name: 'hours', label: 'Valid for hours', type: 'number', min: 1, value: '24', size: 5 },
    { name: 'max_uses', label: 'Max uses', type: 'number', min: 0, value: '1', size: 5 },
  ], 'Create token', async (v) => {
    const labels = {};
    for (const kv of v.labels.split(',').map((s) => s.trim()).filter(Boolean)) {
      const [k, ...rest] = kv.split('=');
      if (!k || rest.length === 0) throw new Error('labels must be key=value pairs separated by commas');
      labels[k.trim()] = rest.join('=').trim();
    }
    const e = await call('POST', '/v1/agents/enrollments', { labels, ttl_seconds: Number(v.hours || 24) * 3600, max_uses: Number(v.max_uses || 0) });
    once(secret, 'enrollment token', e.token, 'new-enrollment-token');
    notice('Enrollment token ' + e.id + ' created. Enroll with: ytcaption-agent install --token <token>', 'ok');
    await load();
  });
  fill(body, h('div', { class: 'panel' }, h('h3', {}, 'New enrollment token'), create, secret), host, tbl);
  async function load() {
    const { enrollments } = await call('GET', '/v1/agents/enrollments');
    fill(tbody, enrollments.length === 0 ? emptyRow(7, 'No enrollment tokens.') : enrollments.map((e) => {
      const state = e.state;
      return h('tr', { 'data-enrollment': e.id },
        h('td', { class: 'mono' }, e.id),
        h('td', {}, Object.entries(e.labels || {}).map(([k, v]) => h('span', { class: 'chip' }, k + '=' + v))),
        h('td', {}, String(e.uses || 0) + (e.max_uses ? ' of ' + e.max_uses : ' (unlimited)')),
        h('td', {}, when(e.created_at)), h('td', {}, e.expires_at ? new Date(e.expires_at).toLocaleString() : 'never'), h('td', {}, badge(state.replace('_', ' '))),
        h('td', { class: 'actions' }, state === 'active' ? h('button', { type: 'button', class: 'small danger', 'data-action': 'revoke', onclick: () =>
          confirmBar(host, 'Revoke enrollment token ' + e.id + '? Agents already enrolled keep working.', 'Revoke token', async () => {
            try { await call('POST', '/v1/agents/enrollments/' + enc(e.id) + '/revoke'); notice('Token ' + e.id + ' revoked.', 'ok'); } catch (err) { notice('Could not revoke: ' + err.message, 'error'); }
            await load();
          }) }, 'Revoke') : null));
    }));
  }
  load().catch((e) => fill(tbody, h('tr', {}, h('td', { colspan: 7 }, errorBox(e)))));
}

// ---- webhooks -----------------------------------------------------------------

function webhooks(body) {
  const host = h('div', { class: 'bulk-host' });
  const [etbl, ebody] = table('endpoints', ['Endpoint', 'Tenant', 'Events', 'Created', ''], 'endpoints-body');
  const [dtbl, dbody] = table('deliveries', ['Delivery', 'Event', 'Job', 'Target', 'Status', 'Attempts', 'Last attempt', ''], 'deliveries-body');
  const statusFilter = h('select', { id: 'delivery-status', onchange: () => loadDeliveries() },
    ['', 'pending', 'delivered', 'failed'].map((s) => h('option', { value: s }, s || 'All deliveries')));
  const create = form('endpoint-form', [
    { name: 'url', label: 'URL', type: 'url', placeholder: 'https://example.com/hooks/ytcaption', required: true, size: 36 },
    { name: 'events', label: 'Events', placeholder: 'job.succeeded,job.failed (empty: final events)', size: 28 },
  ], 'Add endpoint', async (v) => {
    const events = v.events.split(',').map((s) => s.trim()).filter(Boolean);
    const ep = await call('POST', '/v1/webhooks/endpoints', { url: v.url, events: events.length ? events : undefined });
    notice('Endpoint ' + ep.id + ' added.', 'ok');
    await loadEndpoints();
  });
  fill(body, h('div', { class: 'panel' }, h('h3', {}, 'New endpoint'), create), host,
    h('h3', { class: 'section-title' }, 'Endpoints'), etbl,
    h('div', { class: 'toolbar section-title' }, h('h3', {}, 'Deliveries'), h('span', { class: 'spacer' }), h('label', { for: 'delivery-status', class: 'sr-only' }, 'Status'), statusFilter,
      h('button', { type: 'button', class: 'ghost small', onclick: () => loadDeliveries() }, 'Refresh')), dtbl);

  async function loadEndpoints() {
    const { endpoints } = await call('GET', '/v1/webhooks/endpoints');
    fill(ebody, endpoints.length === 0 ? emptyRow(5, 'No endpoints. Jobs may still name their own webhook_url.') : endpoints.map((ep) => h('tr', { 'data-endpoint': ep.id },
      h('td', {}, h('div', { class: 'clip' }, ep.url), h('div', { class: 'mono muted small' }, ep.id)), h('td', {}, ep.tenant),
      h('td', {}, (ep.events && ep.events.length ? ep.events : ['final events']).map((e) => h('span', { class: 'chip' }, e))),
      h('td', {}, when(ep.created_at)),
      h('td', { class: 'actions' }, h('button', { type: 'button', class: 'small danger', 'data-action': 'delete', onclick: () =>
        confirmBar(host, 'Delete endpoint ' + ep.url + '? Pending deliveries to it stop.', 'Delete endpoint', async () => {
          try { await call('DELETE', '/v1/webhooks/endpoints/' + enc(ep.id)); notice('Endpoint deleted.', 'ok'); } catch (e) { notice('Could not delete: ' + e.message, 'error'); }
          await loadEndpoints();
        }) }, 'Delete')))));
  }
  async function loadDeliveries() {
    const q = new URLSearchParams({ limit: '50' });
    if (statusFilter.value) q.set('status', statusFilter.value);
    const { deliveries } = await call('GET', '/v1/webhooks/deliveries?' + q);
    fill(dbody, deliveries.length === 0 ? emptyRow(8, 'No deliveries.') : deliveries.map((d) => {
      const last = (d.attempt_log || [])[d.attempt_log ? d.attempt_log.length - 1 : 0];
      return h('tr', { 'data-delivery': d.id },
        h('td', { class: 'mono' }, shortID(d.id)), h('td', {}, d.event_type),
        h('td', {}, h('a', { href: '#/jobs/' + enc(d.job_id), class: 'mono' }, shortID(d.job_id))),
        h('td', { class: 'src', title: d.url }, d.url), h('td', {}, badge(d.status)), h('td', { class: 'attempts' }, String(d.attempts)),
        h('td', {}, last ? [when(last.at), h('div', { class: 'muted small' }, last.status_code ? 'HTTP ' + last.status_code : (last.error || 'no answer'))] : '—'),
        h('td', { class: 'actions' }, h('button', { type: 'button', class: 'small', 'data-action': 'redeliver', onclick: async () => {
          try {
            await call('POST', '/v1/webhooks/deliveries/' + enc(d.id) + '/redeliver');
            notice('Delivery ' + shortID(d.id) + ' queued again.', 'ok');
          } catch (e) { if (e.status !== 401) notice('Could not redeliver: ' + e.message, 'error'); }
          await loadDeliveries();
        } }, 'Redeliver')));
    }));
  }
  loadEndpoints().catch((e) => fill(ebody, h('tr', {}, h('td', { colspan: 5 }, errorBox(e)))));
  loadDeliveries().catch((e) => fill(dbody, h('tr', {}, h('td', { colspan: 8 }, errorBox(e)))));
  const t = setInterval(() => loadDeliveries().catch(() => null), 5000);
  return () => clearInterval(t);
}

// ---- audit log ------------------------------------------------------------------

function audit(body, params) {
  const cursors = [''];
  let page = 0, next = '';
  const action = h('input', { id: 'audit-action', placeholder: 'action, e.g. keys.', value: params.get('action') || '', size: 16 });
  const tenant = h('input', { id: 'audit-tenant', placeholder: 'tenant', value: params.get('tenant') || '', size: 12 });
  const [tbl, tbody] = table('audit', ['When', 'Who', 'Action', 'Target', 'Outcome', 'From'], 'audit-body');
  const pager = h('div', { class: 'pager' });
  const go = (ev) => { if (ev) ev.preventDefault(); cursors.length = 1; page = 0; load().catch(show); };
  fill(body, h('form', { class: 'toolbar', onsubmit: go }, h('label', { for: 'audit-action' }, 'Action'), action, h('label', { for: 'audit-tenant' }, 'Tenant'), tenant,
    h('button', { type: 'submit', class: 'ghost' }, 'Filter')), tbl, pager);
  const show = (e) => fill(tbody, h('tr', {}, h('td', { colspan: 6 }, errorBox(e))));
  async function load() {
    const q = new URLSearchParams({ limit: '50' });
    if (action.value.trim()) q.set('action', action.value.trim());
    if (tenant.value.trim()) q.set('tenant', tenant.value.trim());
    if (cursors[page]) q.set('cursor', cursors[page]);
    const res = await call('GET', '/v1/audit?' + q);
    next = res.next_cursor || '';
    fill(tbody, res.entries.length === 0 ? emptyRow(6, 'No entries.') : res.entries.map((e) => h('tr', { 'data-audit': e.id, 'data-action': e.action },
      h('td', { class: 'nowrap' }, when(e.at)),
      h('td', {}, h('div', { class: 'mono', title: e.key_id }, e.key_id ? shortID(e.key_id) : '—'), h('div', { class: 'muted small' }, [e.tenant, e.role].filter(Boolean).join(' · '))),
      h('td', { class: 'wrap' }, h('code', {}, e.action), h('div', { class: 'muted small' }, e.method + ' ' + e.path)),
      h('td', { class: 'mono wrap' }, e.target || '—', e.detail ? h('div', { class: 'muted small' }, JSON.stringify(e.detail)) : null),
      h('td', {}, h('span', { class: 'badge ' + (e.status < 400 ? 'succeeded' : 'failed') }, String(e.status))),
      h('td', { title: e.user_agent || '' }, h('div', {}, e.remote_addr || '—'), h('div', { class: 'muted small' }, e.via)))));
    fill(pager,
      h('button', { type: 'button', class: 'ghost', disabled: page === 0, onclick: () => { page--; load().catch(show); } }, '← Newer'),
      h('span', { class: 'muted' }, 'Page ' + (page + 1)),
      h('button', { type: 'button', class: 'ghost', disabled: !next, onclick: () => { cursors[page + 1] = next; page++; load().catch(show); } }, 'Older →'));
  }
  load().catch(show);
}
