// Jobs: filter by status, page with cursors, act singly or on every match.
import { h, fill, view, call, enc, notice, poll, listJobs, when, badge, shortID, source, progress, confirmBar, table, emptyRow, FINAL, STATUSES } from './core.js';

async function jobAction(id, action) {
  try {
    const j = await call('POST', '/v1/jobs/' + enc(id) + '/' + action);
    notice('Job ' + shortID(id) + ' is now ' + j.status + '.', 'ok');
    return j;
  } catch (e) {
    if (e.status !== 401) notice('Could not ' + action + ' job ' + shortID(id) + ': ' + e.message, 'error');
    return null;
  }
}

export function jobs(params) {
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
  const [tbl, tbody] = table('jobs', ['Job', 'Status', 'Stage', 'Progress', 'Source', 'Tenant', 'Created', ''], 'jobs-body');
  const pager = h('div', { class: 'pager' });
  view().append(h('section', {}, h('h2', {}, 'Jobs'), toolbar, bulkHost, tbl, pager));

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
          try { await call('POST', '/v1/jobs/' + enc(id) + '/' + action); ok++; } catch (e) { failed++; }
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
    fill(tbody, ...(res.jobs.length === 0 ? [emptyRow(8, 'No jobs' + (status ? ' with status ' + status : '') + '.')] :
      res.jobs.map((j) => h('tr', { 'data-job': j.id },
        h('td', {}, h('a', { href: '#/jobs/' + enc(j.id), class: 'mono', title: j.id }, shortID(j.id))),
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
