// Settings -> "IP cameras" (admins): the cameras the server captures itself over RTSP/ONVIF
// (/api/v1/ip-cameras, `vigil ipcams`). "Find cameras" sends a WS-Discovery probe and lists what
// answered; each can be added with its credentials after "Show streams" (ONVIF GetProfiles)
// picked the profile to record. Or "Add by RTSP URL". Passwords only ever go in a POST body and
// the field is emptied once sent; everything from the network is shown as text.

import { del, get, patch, post } from './api.js';
import { fail, toast } from './ui.js';
import { h, setText } from './dom.js';

export const CAMERA_ID_RE = /^[a-z0-9][a-z0-9_-]{0,31}$/;
const ID_PATTERN = '[a-z0-9][a-z0-9_\\-]{0,31}'; // the same, for the pattern attribute (v flag: '-' escaped)

/** A camera id from a name: lower case ASCII, runs of anything else as one '-', <= 32 chars. */
export function slugify(text) {
  let s = String(text || '').normalize('NFKD').replace(/[\u0300-\u036f]/g, '').toLowerCase()
    .replace(/[^a-z0-9_-]+/g, '-').replace(/-{2,}/g, '-').replace(/^[-_]+/, '');
  s = s.slice(0, 32).replace(/[-_]+$/, '');
  return CAMERA_ID_RE.test(s) ? s : 'camera';
}

/** `base`, or `base-2`, `base-3`… (still <= 32 chars) when `taken` has it. */
function freeId(base, taken) {
  if (!taken.has(base)) return base;
  for (let n = 2; n < 1000; n += 1) {
    const tail = `-${n}`;
    const id = base.slice(0, 32 - tail.length).replace(/[-_]+$/, '') + tail;
    if (!taken.has(id)) return id;
  }
  return base;
}

function describeProfile(p) {
  if (!p) return '';
  const size = p.width && p.height ? `${p.width}×${p.height}` : '';
  const fps = p.fps ? `${Math.round(p.fps * 10) / 10} fps` : '';
  return [p.encoding, size, fps].filter(Boolean).join(' ');
}

/** Show an API error in `el` (next to the form) and as the page's usual error toast. */
function report(el, err) {
  setText(el, err && err.message ? err.message : String(err));
  fail(err);
}

/**
 * The section. `onChange` is called after a camera was added or removed (the page reloads its
 * camera table). Returns {el, load, start, leave}: start() loads the list and refreshes it every
 * 5 s (status, stream) until leave().
 */
export function ipCamerasSection({ onChange = () => {} } = {}) {
  const rows = h('tbody#ipcams');
  const empty = h('p.muted#ipcams-empty', { hidden: true }, 'No IP cameras yet: find them on the network, or add one by its RTSP URL.');
  const findButton = h('button.primary#find-cameras', { type: 'button', onclick: () => find() }, 'Find cameras');
  const findStatus = h('span.muted#find-status', { role: 'status' });
  const findError = h('p.error#find-error', { role: 'alert' });
  const found = h('div.found-cameras#found-cameras');
  let known = new Set(); // camera ids in use (the registry's and the IP cameras'), for suggestions
  let lastShown = '';
  let timer = null;

  const el = h('div.ipcams#ip-cameras',
    h('div.table-wrap', h('table.list#ipcams-list',
      h('thead', h('tr', ['Name', 'Id', 'Status', 'Stream', 'Enabled', ''].map((t) => h('th', t)))), rows)),
    empty,
    h('div.controls', findButton, findStatus),
    findError,
    found,
    rtspForm());

  async function load({ quiet = false } = {}) {
    try {
      const [list, cams] = await Promise.all([get('/ip-cameras'), get('/cameras')]);
      const byId = new Map(cams.map((c) => [c.id, c]));
      known = new Set([...cams.map((c) => c.id), ...list.items.map((c) => c.camera_id)]);
      // Polled: only redrawn when something shown changed, and never under an open "Really remove?".
      const shown = JSON.stringify(list.items.map((c) => {
        const cam = byId.get(c.camera_id);
        return [c, cam ? [cam.width, cam.height, cam.codec, cam.fps] : null];
      }));
      if (shown === lastShown || rows.querySelector('.confirm:not([hidden])')) return;
      lastShown = shown;
      rows.replaceChildren(...list.items.map((c) => row(c, byId.get(c.camera_id))));
      empty.hidden = list.items.length > 0;
    } catch (err) {
      if (!quiet) fail(err); // a refresh that failed says nothing: the next one may not
    }
  }

  function row(c, cam) {
    const id = c.camera_id;
    const badge = !c.enabled ? h('span.badge.disabled', 'disabled') : h(`span.badge.${c.status === 'online' ? 'online' : 'offline'}`, c.status);
    // What arrives (the capture's heartbeat) when it streams, else what the camera's profile said.
    const live = cam && cam.status === 'online' && cam.width ? `${cam.width}×${cam.height} ${cam.codec.toUpperCase()}` : '';
    const planned = describeProfile(c.profile);
    const stream = h('td.ipcam-stream',
      h('div', live || planned || '—'),
      h('div.muted.small', c.source === 'onvif'
        ? ['ONVIF', c.profile && c.profile.name ? ` profile ${c.profile.name}` : '', [c.manufacturer, c.model].filter(Boolean).length ? ` · ${[c.manufacturer, c.model].filter(Boolean).join(' ')}` : '']
        : 'RTSP URL'),
      h('div.muted.small.uri', c.stream_uri));
    const enabled = h('input', { type: 'checkbox', checked: c.enabled, 'aria-label': `${id} enabled` });
    enabled.addEventListener('change', async () => {
      try {
        await patch(`/ip-cameras/${encodeURIComponent(id)}`, { enabled: enabled.checked });
        toast(enabled.checked ? `Capturing ${id} again` : `Capture of ${id} stopped`);
      } catch (err) { fail(err); enabled.checked = !enabled.checked; }
      load();
    });
    const confirm = h('span.confirm', { hidden: true },
      h('button.danger', { type: 'button', onclick: async () => {
        try {
          await del(`/ip-cameras/${encodeURIComponent(id)}`);
          toast(`IP camera ${id} removed (its recordings stay until the camera is deleted under Cameras)`);
          confirm.hidden = true;
          load();
          onChange();
        } catch (err) { fail(err); }
      } }, 'Really remove?'),
      h('button', { type: 'button', onclick: () => { confirm.hidden = true; remove.hidden = false; } }, 'Cancel'));
    const remove = h('button.danger', { type: 'button', onclick: () => { confirm.hidden = false; remove.hidden = true; } }, 'Remove');
    return h('tr', { dataset: { ipcam: id } },
      h('td', c.name || id, c.location ? h('div.muted.small', c.location) : null),
      h('td', id), h('td.ipcam-status', badge), stream, h('td', enabled), h('td.actions', remove, confirm));
  }

  async function find() {
    findButton.disabled = true;
    setText(findError, '');
    setText(findStatus, 'Searching the network…');
    found.replaceChildren();
    try {
      const out = await post('/ip-cameras/discover', {});
      await load(); // fresh ids for the suggestions
      setText(findStatus, out.items.length
        ? `${out.items.length} camera${out.items.length > 1 ? 's' : ''} answered (probe sent to ${out.targets}).`
        : `No camera answered (probe sent to ${out.targets}). Is it on this network, with ONVIF on?`);
      found.replaceChildren(...out.items.map(foundCamera));
    } catch (err) {
      setText(findStatus, '');
      report(findError, err);
    } finally {
      findButton.disabled = false;
    }
  }

  function foundCamera(d) {
    const title = d.name || d.hardware || d.address;
    const head = h('div.found-head',
      h('strong.found-name', title),
      d.hardware && d.hardware !== title ? h('span.found-hardware', d.hardware) : null,
      h('span.muted.found-address', d.address),
      d.location ? h('span.muted', d.location) : null);
    const card = h('div.found-camera', { dataset: { urn: d.urn } }, head);
    if (d.camera_id) {
      head.append(h('span.badge.online.added-as', `added as ${d.camera_id}`));
      return card;
    }
    const form = addForm(d, (id) => { form.remove(); open.remove(); head.append(h('span.badge.online.added-as', `added as ${id}`)); });
    form.hidden = true;
    const open = h('button.add-found', { type: 'button', onclick: () => { form.hidden = false; open.hidden = true; form.querySelector('input').focus(); } }, 'Add');
    head.append(open);
    card.append(form);
    return card;
  }

  function addForm(d, added) {
    const camId = h('input', { name: 'camera_id', required: true, pattern: ID_PATTERN, maxlength: 32,
      value: freeId(slugify(d.name || d.hardware || d.address), known), autocomplete: 'off', 'aria-label': 'Camera id',
      title: 'lower-case letters, digits, - and _ (up to 32), starting with a letter or digit' });
    const name = h('input', { name: 'name', maxlength: 128, value: d.name || '', 'aria-label': 'Name' });
    const loc = h('input', { name: 'location', maxlength: 128, value: d.location || '', 'aria-label': 'Location' });
    const user = h('input', { name: 'username', maxlength: 128, autocomplete: 'off', 'aria-label': 'Camera user name' });
    const pw = h('input', { name: 'password', type: 'password', maxlength: 256, autocomplete: 'new-password', 'aria-label': 'Camera password' });
    const addrs = d.xaddrs && d.xaddrs.length ? d.xaddrs : [d.xaddr];
    const xaddr = h('select', { name: 'xaddr', 'aria-label': 'ONVIF address', hidden: addrs.length < 2 },
      addrs.map((a) => h('option', { value: a, selected: a === d.xaddr }, a)));
    const profiles = h('fieldset.profiles', { hidden: true });
    const device = h('p.muted.device', { hidden: true });
    const error = h('p.error', { role: 'alert' });
    const streams = h('button.show-streams', { type: 'button', onclick: () => showStreams() }, 'Show streams');
    const add = h('button.primary.add-camera', { type: 'submit', disabled: true }, 'Add camera');

    async function showStreams() {
      streams.disabled = true;
      setText(error, '');
      try {
        const out = await post('/ip-cameras/onvif', { xaddr: xaddr.value, username: user.value, password: pw.value });
        setText(device, [out.manufacturer, out.model, out.firmware ? `firmware ${out.firmware}` : ''].filter(Boolean).join(' · '));
        device.hidden = !device.textContent;
        profiles.replaceChildren(h('legend', 'Stream to record'), ...out.profiles.map((p) => {
          const why = p.recordable ? '' : (p.uri ? ` — not recordable: Vigil records H.264 only, this one is ${p.encoding}` : ' — not recordable: the camera gave no stream URL');
          const radio = h('input', { type: 'radio', name: 'profile', value: p.token, disabled: !p.recordable, checked: p.token === out.chosen });
          return h(p.recordable ? 'label.profile' : 'label.profile.unusable', h('span', radio, ` ${p.name || p.token}: ${describeProfile(p) || 'unknown format'}${why}`));
        }));
        if (!out.profiles.length) profiles.append(h('p.muted', 'The camera lists no media profiles.'));
        const pick = profiles.querySelector('input[name=profile]:checked') || profiles.querySelector('input[name=profile]:not(:disabled)');
        if (pick) pick.checked = true;
        profiles.hidden = false;
        add.disabled = !pick;
        if (add.disabled) setText(error, 'This camera has no H.264 stream Vigil can record.');
      } catch (err) {
        profiles.hidden = true;
        device.hidden = true;
        add.disabled = true;
        report(error, err);
      } finally {
        streams.disabled = false;
      }
    }

    const form = h('form.inline-form.ipcam-form', { onsubmit: async (ev) => {
      ev.preventDefault();
      setText(error, '');
      const picked = profiles.querySelector('input[name=profile]:checked');
      const body = { camera_id: camId.value.trim(), name: name.value.trim(), location: loc.value.trim(), xaddr: xaddr.value,
        urn: d.urn, username: user.value, password: pw.value };
      if (picked) body.profile_token = picked.value;
      pw.value = '';
      add.disabled = true;
      try {
        const cam = await post('/ip-cameras', body);
        toast(`IP camera ${cam.camera_id} added: recording starts within seconds`);
        added(cam.camera_id);
        load();
        onChange();
      } catch (err) {
        add.disabled = false;
        report(error, err);
      }
    } },
    h('label', 'Camera id', camId), h('label', 'Name', name), h('label', 'Location', loc),
    h('label', 'User name', user), h('label', 'Password', pw), addrs.length > 1 ? h('label', 'Address', xaddr) : xaddr,
    h('div.controls', streams, add), device, profiles, error);
    // Other credentials or another address: the profiles shown are not the ones it would get.
    for (const input of [user, xaddr]) input.addEventListener('change', () => { profiles.hidden = true; device.hidden = true; add.disabled = true; });
    return form;
  }

  function rtspForm() {
    const camId = h('input', { name: 'camera_id', required: true, pattern: ID_PATTERN, maxlength: 32, autocomplete: 'off', 'aria-label': 'Camera id' });
    const name = h('input', { name: 'name', maxlength: 128, 'aria-label': 'Name' });
    const loc = h('input', { name: 'location', maxlength: 128, 'aria-label': 'Location' });
    const rtsp = h('input', { name: 'rtsp_url', type: 'url', required: true, maxlength: 1024, pattern: 'rtsps?://.+', placeholder: 'rtsp://192.168.1.20:554/stream1', 'aria-label': 'RTSP URL', autocomplete: 'off' });
    const user = h('input', { name: 'username', maxlength: 128, autocomplete: 'off', 'aria-label': 'User name' });
    const pw = h('input', { name: 'password', type: 'password', maxlength: 256, autocomplete: 'new-password', 'aria-label': 'Password' });
    const error = h('p.error', { role: 'alert' });
    name.addEventListener('input', () => { if (!camId.dataset.edited) camId.value = name.value ? freeId(slugify(name.value), known) : ''; });
    camId.addEventListener('input', () => { camId.dataset.edited = '1'; });
    const form = h('form.inline-form#add-rtsp', { onsubmit: async (ev) => {
      ev.preventDefault();
      setText(error, '');
      const body = { camera_id: camId.value.trim(), name: name.value.trim(), location: loc.value.trim(), rtsp_url: rtsp.value.trim(),
        username: user.value, password: pw.value };
      pw.value = '';
      try {
        const cam = await post('/ip-cameras', body);
        toast(`IP camera ${cam.camera_id} added: recording starts within seconds`);
        form.reset();
        delete camId.dataset.edited;
        load();
        onChange();
      } catch (err) { report(error, err); }
    } },
    h('label', 'Name', name), h('label', 'Camera id', camId), h('label', 'Location', loc), h('label', 'RTSP URL (no credentials in it)', rtsp),
    h('label', 'User name', user), h('label', 'Password', pw), h('button.primary', { type: 'submit' }, 'Add'), error);
    return h('details.add-rtsp', h('summary', 'Add by RTSP URL'), form);
  }

  return {
    el,
    load,
    start() { load(); timer = setInterval(() => load({ quiet: true }), 5000); },
    leave() { clearInterval(timer); timer = null; },
  };
}
