// The ytcaption operator console: a hash-routed page over the JSON API. Each
// view renders into #view and returns a function that stops its timers and
// streams when the operator moves on.
import { view, notice, session, canFleet, csrf } from './core.js';
import { overview } from './overview.js';
import { jobs } from './jobs.js';
import { job } from './job.js';
import { fleet } from './fleet.js';
import { admin, canAdmin } from './admin.js';

const views = { overview, jobs, job, fleet, admin };
let stop = () => {};

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
    const on = a.dataset.view === (name === 'job' ? 'jobs' : name);
    a.classList.toggle('active', on);
    if (on) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
  }
  view().replaceChildren();
  stop = views[name](params) || (() => {});
  view().focus({ preventScroll: true });
}

// The skip link focuses the view; as a plain #anchor it would be taken for a route.
document.querySelector('.skip').addEventListener('click', (ev) => { ev.preventDefault(); view().focus(); });

document.getElementById('logout').addEventListener('click', async () => {
  await fetch('/console/logout', { method: 'POST', credentials: 'same-origin', headers: { 'Accept': 'application/json', 'X-CSRF-Token': csrf() } }).catch(() => null);
  location.href = '/console/login';
});

// The session decides which pages show; the first view waits for it.
(async () => {
  try {
    const r = await fetch('/console/session', { credentials: 'same-origin' });
    if (r.status === 401) { location.href = '/console/login?expired=1'; return; }
    const me = await r.json();
    Object.assign(session, { role: me.role, tenant: me.tenant });
    document.getElementById('who').textContent = me.tenant + ' · ' + me.role;
  } catch (e) {
    notice('Could not read the session: ' + e.message, 'error');
  }
  document.querySelector('#nav a[data-view="fleet"]').hidden = !canFleet();
  document.querySelector('#nav a[data-view="admin"]').hidden = !canAdmin();
  window.addEventListener('hashchange', route);
  route();
})();
