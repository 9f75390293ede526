// Dates and times as the firm sees them: stored UTC, shown in Asia/Shanghai
// (DESIGN.md "Time"), as "2026-11-27 04:32:38" in every locale.
export const TIME_ZONE = 'Asia/Shanghai';

const FORMAT = new Intl.DateTimeFormat('en-CA', {
  timeZone: TIME_ZONE,
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
  hourCycle: 'h23',
});

function parts(value) {
  const date = value instanceof Date ? value : new Date(value);
  if (Number.isNaN(date.getTime())) return null;
  const out = {};
  for (const p of FORMAT.formatToParts(date)) out[p.type] = p.value;
  return out;
}

/** "2026-11-27 04:32:38" (seconds: false → "2026-11-27 04:32"); "—" when absent. */
export function formatDateTime(value, { seconds = true } = {}) {
  if (!value) return '—';
  const p = parts(value);
  if (!p) return String(value);
  const time = seconds ? `${p.hour}:${p.minute}:${p.second}` : `${p.hour}:${p.minute}`;
  return `${p.year}-${p.month}-${p.day} ${time}`;
}

/** "2026-11-27"; "—" when absent. */
export function formatDate(value) {
  if (!value) return '—';
  const p = parts(value);
  return p ? `${p.year}-${p.month}-${p.day}` : String(value);
}
