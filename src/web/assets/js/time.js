// Every time on screen is Beijing time (Asia/Shanghai), whatever zone the browser runs in;
// the API speaks RFC 3339 and the console sends times with an explicit +08:00 offset.

export const ZONE = 'Asia/Shanghai';
const SHANGHAI_OFFSET = '+08:00'; // China has kept UTC+8 without daylight saving since 1991
const SHANGHAI_OFFSET_MS = 8 * 3600 * 1000;

const partsFormatter = new Intl.DateTimeFormat('en-GB', {
  timeZone: ZONE, year: 'numeric', month: '2-digit', day: '2-digit',
  hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23',
});

function parts(value) {
  const date = value instanceof Date ? value : new Date(value);
  if (Number.isNaN(date.getTime())) return null;
  const out = {};
  for (const p of partsFormatter.formatToParts(date)) out[p.type] = p.value;
  return out;
}

/** `2024-05-01 08:00:00` in Beijing time, or '' for a missing or unreadable time. */
export function formatTime(value) {
  if (value === null || value === undefined || value === '') return '';
  const p = parts(value);
  return p ? `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}:${p.second}` : String(value);
}

/** `2024-05-01` in Beijing time. */
export function formatDate(value) {
  if (value === null || value === undefined || value === '') return '';
  const p = parts(value);
  return p ? `${p.year}-${p.month}-${p.day}` : String(value);
}

/** `08:00` in Beijing time (chart axes, the replay slider). */
export function formatClock(value) {
  const p = parts(value);
  return p ? `${p.hour}:${p.minute}` : '';
}

/**
 * A `<input type="datetime-local">` value (`2024-05-01T08:00`), read as Beijing time, as
 * RFC 3339 with its offset; null for an empty or malformed value.
 */
export function localInputToIso(value) {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$/.test(value || '')) return null;
  const withSeconds = value.length === 16 ? `${value}:00` : value;
  return `${withSeconds}${SHANGHAI_OFFSET}`;
}

/** The `<input type="datetime-local">` value showing instant `value` in Beijing time. */
export function isoToLocalInput(value) {
  const date = value instanceof Date ? value : new Date(value);
  if (Number.isNaN(date.getTime())) return '';
  return new Date(date.getTime() + SHANGHAI_OFFSET_MS).toISOString().slice(0, 16);
}

/** A `<input type="date">` value (a Beijing calendar day) as the RFC 3339 start of that day. */
export function dateInputToIso(value, endOfDay = false) {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(value || '')) return null;
  return endOfDay ? `${value}T23:59:59${SHANGHAI_OFFSET}` : `${value}T00:00:00${SHANGHAI_OFFSET}`;
}

/** Today's (or `daysAgo` days before today's) Beijing date as `YYYY-MM-DD`. */
export function shanghaiDate(daysAgo = 0) {
  return new Date(Date.now() + SHANGHAI_OFFSET_MS - daysAgo * 86_400_000).toISOString().slice(0, 10);
}
