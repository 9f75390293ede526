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

const DAY = new Intl.DateTimeFormat('en-CA', { timeZone: TIME_ZONE, year: 'numeric', month: '2-digit', day: '2-digit' });

/** Today in Asia/Shanghai as "2026-11-27". */
export function todayIso(now = new Date()) {
  return DAY.format(now);
}

/** "2027-01-31" plus n months, keeping the day of the month clamped to the month's end. */
export function addMonthsIso(iso, n) {
  const [y, m, d] = iso.split('-').map(Number);
  const index = y * 12 + (m - 1) + n;
  const year = Math.floor(index / 12);
  const month = (index % 12) + 1;
  const last = new Date(Date.UTC(year, month, 0)).getUTCDate();
  const day = Math.min(d, last);
  return `${String(year).padStart(4, '0')}-${String(month).padStart(2, '0')}-${String(day).padStart(2, '0')}`;
}
