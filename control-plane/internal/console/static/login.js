'use strict';
// Login: posts the key as JSON so the reply can be shown in place; without
// scripts the form posts itself and the server redirects.
(function () {
  const form = document.getElementById('login-form');
  const err = document.getElementById('login-error');
  const show = (msg) => { err.textContent = msg; err.hidden = false; };
  const params = new URLSearchParams(location.search);
  if (params.get('error') === 'invalid_key') show('That key is not valid: unknown, expired or revoked.');
  if (params.get('expired')) show('Your session ended. Sign in again.');

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    err.hidden = true;
    const key = document.getElementById('key').value.trim();
    if (!key) { show('Paste an API key.'); return; }
    let r;
    try {
      r = await fetch('/console/login', {
        method: 'POST', credentials: 'same-origin',
        headers: { 'Content-Type': 'application/json', 'Accept': 'application/json' },
        body: JSON.stringify({ key }),
      });
    } catch (e) {
      show('The server cannot be reached.');
      return;
    }
    if (r.ok) { location.href = '/console/'; return; }
    const body = await r.json().catch(() => null);
    show(r.status === 401 ? 'That key is not valid: unknown, expired or revoked.'
      : (body && body.error && body.error.message) || ('Sign-in failed (HTTP ' + r.status + ').'));
  });
})();
