// Formatting numbers, sizes and times for display.

// Sizes are binary, both ways, as the server's (vigil_common/contract/sizes.py): "2G" typed in a
// form is 2 GiB, and shows back as "2.0 GiB".
const SIZE_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
const SIZE_STEP = 1024;

export function bytes(n) {
  if (n === null || n === undefined) return '—';
  let v = Number(n);
  let i = 0;
  while (Math.abs(v) >= SIZE_STEP && i < SIZE_UNITS.length - 1) { v /= SIZE_STEP; i += 1; }
  return `${v.toFixed(v >= 100 || i === 0 ? 0 : 1)} ${SIZE_UNITS[i]}`;
}

export function parseBytes(text) {
  const t = String(text).trim();
  if (!t) return null;
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?$/i.exec(t);
  if (!m) throw new Error(`not a size: ${t} (use e.g. 500M, 2G)`);
  const mult = SIZE_STEP ** ' kmgt'.indexOf(m[2].toLowerCase() || ' ');
  return Math.round(Number(m[1]) * mult);
}

export function duration(seconds) {
  const s = Math.round(Number(seconds));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${s % 60} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

export function dateTime(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  return d.toLocaleString(undefined, { dateStyle: 'short', timeStyle: 'medium' });
}

export function time(iso) {
  if (!iso) return '—';
  return new Date(iso).toLocaleTimeString(undefined, { hour12: false });
}

export function ago(iso) {
  if (!iso) return 'never';
  const s = Math.max(0, (Date.now() - new Date(iso).getTime()) / 1000);
  if (s < 60) return `${Math.round(s)} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return dateTime(iso);
}

const pad = (n) => String(n).padStart(2, '0');

/** YYYY-MM-DD of a Date in the browser's zone. */
export function isoDay(d = new Date()) {
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

/** HH:MM:SS of a Date in the browser's zone. */
export function hms(d) {
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** A datetime-local input value (browser zone) for a Date. */
export function localInput(d) {
  return `${isoDay(d)}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

let serverZone = null;

/** The server's zone (VIGIL_TIMEZONE), from the login or session answer. */
export function setServerZone(tz) { serverZone = tz || null; }

/** Today (or the day of `d`) as YYYY-MM-DD in the server's zone: the API's days are days there. */
export function serverDay(d = new Date()) {
  if (!serverZone) return isoDay(d);
  try {
    return new Intl.DateTimeFormat('en-CA', { timeZone: serverZone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(d);
  } catch (e) {
    return isoDay(d);
  }
}
