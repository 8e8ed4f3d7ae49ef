// Settings (admin): users, cameras, IP cameras (ipcams.js), alert recipients, retention.

import { ApiError, del, get, patch, post, put } from '../api.js';
import { session } from '../session.js';
import { fail, toast } from '../ui.js';
import { listCameras } from '../cameras.js';
import { h, setText } from '../dom.js';
import { bytes, parseBytes } from '../format.js';
import { ipCamerasSection } from '../ipcams.js';

export function show(root) {
  if (!session.isAdmin) {
    root.append(h('h1', 'Settings'), h('p', 'Only administrators can change settings.'));
    return null;
  }
  const users = h('tbody#users');
  const cameras = h('tbody#settings-cameras');
  const alerts = h('div#alerts');
  const retention = h('div#retention');
  const ipcams = ipCamerasSection({ onChange: () => loadCameras() });
  root.append(h('div.page-head', h('h1', 'Settings')),
    h('h2', 'Users'), h('div.table-wrap', h('table.list', h('thead', h('tr', ['User', 'Role', 'New password', ''].map((t) => h('th', t)))), users)),
    addUserForm(),
    h('h2', 'Cameras'), h('div.table-wrap', h('table.list', h('thead', h('tr', ['Id', 'Name', 'Location', 'Enabled', 'E-mail when it sees', 'Faces', ''].map((t) => h('th', t)))), cameras)),
    h('h2#ip-cameras-title', 'IP cameras'), ipcams.el,
    h('h2', 'Alert recipients'), alerts,
    h('h2', 'Retention'), retention);

  function addUserForm() {
    const name = h('input', { name: 'username', required: true, pattern: '[A-Za-z0-9_.@\\-]{1,64}', autocomplete: 'off', 'aria-label': 'New username' });
    const pw = h('input', { name: 'password', type: 'password', required: true, minlength: 8, autocomplete: 'new-password', 'aria-label': 'Password' });
    const role = h('select', { name: 'role', 'aria-label': 'Role' }, h('option', { value: 'viewer' }, 'viewer'), h('option', { value: 'admin' }, 'admin'));
    return h('form.inline-form#add-user', { onsubmit: async (ev) => {
      ev.preventDefault();
      try {
        await post('/users', { username: name.value, password: pw.value, role: role.value });
        toast(`User ${name.value} added`);
        ev.target.reset();
        loadUsers();
      } catch (err) { fail(err); }
    } }, h('label', 'Username', name), h('label', 'Password', pw), h('label', 'Role', role), h('button.primary', { type: 'submit' }, 'Add user'));
  }

  async function loadUsers() {
    try {
      const list = await get('/users');
      users.replaceChildren(...list.map((u) => {
        const role = h('select', { 'aria-label': `Role of ${u.username}` }, ['viewer', 'admin'].map((r) => h('option', { value: r, selected: r === u.role }, r)));
        role.addEventListener('change', async () => {
          try { await patch(`/users/${u.id}`, { role: role.value }); toast(`${u.username} is now ${role.value}`); } catch (err) { fail(err); loadUsers(); }
        });
        const pw = h('input', { type: 'password', minlength: 8, placeholder: 'at least 8 characters', autocomplete: 'new-password', 'aria-label': `New password for ${u.username}` });
        const reset = h('button', { type: 'button', onclick: async () => {
          try { const out = await patch(`/users/${u.id}`, { password: pw.value }); pw.value = ''; const n = out.tokens_revoked || 0; toast(`Password of ${u.username} reset; sessions ended${n ? `, ${n} API token${n > 1 ? 's' : ''} revoked` : ''}`); } catch (err) { fail(err); }
        } }, 'Reset password');
        const remove = h('button.danger', { type: 'button', disabled: u.username === session.user.username, onclick: async () => {
          if (!remove.dataset.armed) { remove.dataset.armed = '1'; setText(remove, 'Really remove?'); return; }
          try { await del(`/users/${u.id}`); toast(`User ${u.username} removed`); loadUsers(); } catch (err) { fail(err); }
        } }, 'Remove');
        return h('tr', h('td', u.username, u.locked ? h('span.badge.offline', ' locked') : null), h('td', role), h('td', pw), h('td.actions', reset, remove));
      }));
    } catch (err) { fail(err); }
  }

  async function loadCameras() {
    try {
      const list = await listCameras();
      cameras.replaceChildren(...list.map((c) => {
        const name = h('input', { value: c.name, maxlength: 128, 'aria-label': `Name of ${c.id}` });
        const loc = h('input', { value: c.location, maxlength: 128, 'aria-label': `Location of ${c.id}` });
        const enabled = h('input', { type: 'checkbox', checked: c.enabled, 'aria-label': `${c.id} enabled` });
        // Object labels whose events e-mail (opt-in; the detector's labels: person, car, dog, ...).
        const notify = h('input', { value: (c.notify_objects || []).join(', '), placeholder: 'e.g. person, car',
          'aria-label': `Object e-mails of ${c.id}` });
        const faces = h('input', { type: 'checkbox', checked: !!c.detect_faces, 'aria-label': `Faces on ${c.id}` });
        const save = h('button', { type: 'button', onclick: async () => {
          const body = { enabled: enabled.checked };
          if (faces.checked !== !!c.detect_faces) body.detect_faces = faces.checked;
          if (name.value !== c.name) body.name = name.value;
          if (loc.value !== c.location) body.location = loc.value;
          const labels = notify.value.split(',').map((x) => x.trim().toLowerCase()).filter(Boolean);
          if (labels.join(',') !== (c.notify_objects || []).join(',')) body.notify_objects = labels;
          try { await patch(`/cameras/${encodeURIComponent(c.id)}`, body); toast(`Camera ${c.id} saved`); loadCameras(); } catch (err) { fail(err); }
        } }, 'Save');
        const confirm = h('span.confirm', { hidden: true },
          h('button.danger', { type: 'button', onclick: () => removeCamera(c.id, false) }, 'Delete, keep footage'),
          h('button.danger', { type: 'button', onclick: () => removeCamera(c.id, true) }, 'Delete with footage'),
          h('button', { type: 'button', onclick: () => { confirm.hidden = true; } }, 'Cancel'));
        const remove = h('button.danger', { type: 'button', onclick: () => { confirm.hidden = false; } }, 'Delete…');
        return h('tr', { dataset: { camera: c.id } }, h('td', c.id), h('td', name), h('td', loc), h('td', enabled), h('td', notify), h('td', faces), h('td.actions', save, remove, confirm));
      }));
    } catch (err) { fail(err); }
  }

  async function removeCamera(id, footage) {
    try {
      await del(`/cameras/${encodeURIComponent(id)}`, footage ? { footage: 'true' } : {});
      toast(footage ? `Camera ${id} and its footage deleted` : `Camera ${id} deleted (footage kept)`);
      loadCameras();
    } catch (err) { fail(err); }
  }

  async function loadAlerts() {
    try {
      const s = await get('/notifications/settings');
      const recipients = h('textarea#recipients', { rows: 3, 'aria-label': 'Recipients, one e-mail address per line' });
      recipients.value = s.recipients.join('\n');
      const grace = h('input', { type: 'number', min: 0, step: 'any', value: String(s.offline_grace_s), 'aria-label': 'Offline grace (s)' });
      const optional = (v) => (v === null || v === undefined ? '' : String(v));
      const remindAfter = h('input', { type: 'number', min: 0, step: 'any', value: optional(s.reminder_after_s), placeholder: 'never', 'aria-label': 'Remind after (s)' });
      const remindEvery = h('input', { type: 'number', min: 0, step: 'any', value: optional(s.reminder_every_s), placeholder: 'never', 'aria-label': 'Remind every (s)' });
      const num = (input) => (input.value === '' ? null : Number(input.value));
      const form = h('form.stack-form#alerts-form', { onsubmit: async (ev) => {
        ev.preventDefault();
        const list = recipients.value.split(/[\s,;]+/).map((x) => x.trim()).filter(Boolean);
        const body = { recipients: list, offline_grace_s: Number(grace.value), reminder_after_s: num(remindAfter), reminder_every_s: num(remindEvery) };
        try { await put('/notifications/settings', body); toast('Alert settings saved'); } catch (err) { fail(err); }
      } },
      h('label', 'Recipients (one per line)', recipients),
      h('label', 'Alert after a camera is offline for (seconds)', grace),
      h('label', 'Remind after it stays offline for (seconds; empty = never)', remindAfter),
      h('label', 'Then remind every (seconds; empty = never)', remindEvery),
      h('p.muted', `Delivered by: ${s.channel}`),
      h('div.controls', h('button.primary', { type: 'submit' }, 'Save'),
        h('button', { type: 'button', onclick: async () => {
          try { await post('/notifications/test', {}); toast('Test notification queued'); } catch (err) { fail(err); }
        } }, 'Send a test')));
      alerts.replaceChildren(form);
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) alerts.replaceChildren(h('p.muted', 'Alert settings are not available on this server.'));
      else fail(err);
    }
  }

  async function loadRetention() {
    try {
      const r = await get('/settings/retention');
      const sizeText = (v) => (v === null ? 'none' : bytes(v));
      // Each field: only sent when the admin changed it, so the others keep following their
      // VIGIL_ setting; "Use configured" forgets one override.
      const fields = [
        { key: 'days', label: 'Keep footage for (days)', shown: (v) => `${v} days`,
          input: h('input#retention-days', { type: 'number', min: 0.01, step: 'any', value: String(r.days), 'aria-label': 'Days' }),
          read: (el) => {
            const v = Number(el.value);
            if (el.value.trim() === '' || !(v > 0)) throw new Error('days: give a number above 0');
            return v;
          } },
        { key: 'max_bytes', label: 'Total size cap (bytes, or 500M, 2G…; empty = none)', shown: sizeText,
          input: h('input#retention-max', { value: r.max_bytes === null ? '' : String(r.max_bytes), placeholder: 'no cap (e.g. 500G)', 'aria-label': 'Total cap' }),
          read: (el) => parseBytes(el.value) },
        { key: 'min_free_bytes', label: 'Keep this much disk free (empty = none)', shown: sizeText,
          input: h('input#retention-free', { value: r.min_free_bytes === null ? '' : String(r.min_free_bytes), placeholder: 'no floor (e.g. 5G)', 'aria-label': 'Keep free' }),
          read: (el) => parseBytes(el.value) },
      ];
      const rows = fields.map((f) => {
        const overridden = r.overridden.includes(f.key);
        const reset = overridden ? h(`button#retention-reset-${f.key.replace(/_/g, '-')}`, { type: 'button', onclick: async () => {
          try { await del(`/settings/retention/${f.key}`); toast(`${f.key} follows the configured value again`); loadRetention(); } catch (err) { fail(err); }
        } }, 'Use configured') : null;
        const note = h('span.muted', overridden ? ` Changed in the app; configured: ${f.shown(r.configured[f.key])}.` : ' As configured.');
        return h('div.retention-field', { dataset: { key: f.key } }, h('label', f.label, f.input), h('p.hint', note, ' ', reset));
      });
      const form = h('form.stack-form#retention-form', { onsubmit: async (ev) => {
        ev.preventDefault();
        try {
          const body = {};
          for (const f of fields) {
            const v = f.read(f.input);
            if (v !== r[f.key]) body[f.key] = v;
          }
          if (!Object.keys(body).length) { toast('Nothing changed'); return; }
          await put('/settings/retention', body);
          toast('Retention saved; the recorder applies it on its next pass');
          loadRetention();
        } catch (err) { fail(err); }
      } },
      ...rows,
      h('div.controls', h('button.primary', { type: 'submit' }, 'Save retention'),
        r.overridden.length ? h('button#retention-reset-all', { type: 'button', onclick: async () => {
          try { await del('/settings/retention'); toast('Back to the configured retention'); loadRetention(); } catch (err) { fail(err); }
        } }, 'Use configured values for all') : null));
      retention.replaceChildren(form);
    } catch (err) { fail(err); }
  }

  loadUsers();
  loadCameras();
  loadAlerts();
  loadRetention();
  ipcams.start();
  return { leave() { ipcams.leave(); } };
}
