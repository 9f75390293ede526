// Money is stored as integer fen. The UI shows and takes yuan or
// wan (10,000 yuan); conversions go through decimal strings and BigInt, never floats, so
// "30.5" wan is exactly 30500000 fen.

const FEN_PER_YUAN = 100n;
const FEN_PER_WAN = 1000000n;

const FULL_WIDTH = /[\uFF10-\uFF19\uFF0E\uFF0C]/g;

// The ideographic full stop (U+3002), which a Chinese input method types for a point.
const IDEOGRAPHIC_POINT = /\u3002/g;
const GROUPED = /^\d{1,3}(,\d{3})+(\.\d*)?/;

/** The text as typed, in plain digits: full-width digits, point and comma made ASCII, the
 * ideographic full stop read as a point, spaces dropped; commas dropped only where they group
 * thousands ("1,000,000.5"): "1,5" or "1,000,00" keep them, and are refused, not read as 15
 * or 100000. */
function plain(text) {
  const s = String(text ?? '')
    .replace(FULL_WIDTH, (c) => String.fromCharCode(c.charCodeAt(0) - 0xFEE0))
    .replace(IDEOGRAPHIC_POINT, '.')
    .replace(/\s/g, '');
  if (!s.includes(',')) return s;
  const m = s.match(GROUPED);
  if (!m) return s;
  const rest = s.slice(m[0].length);
  return rest.includes(',') ? s : m[0].replace(/,/g, '') + rest;
}

// The characters wan (U+4E07) and yuan (U+5143).
const WAN = '\u4E07';
const YUAN = '\u5143';
const UNIT = new RegExp(`^(.*?)(${WAN}${YUAN}|${WAN}|[wW]|${YUAN})$`);

/** A unit typed after the number (8 wan, 8 wan-yuan, "8w", 80000 yuan, in characters) says
 * what the number is, whatever the field's own unit: { digits, unit: 'wan' | 'yuan' | null }. */
function unitOf(text) {
  const s = plain(text);
  const m = s.match(UNIT);
  if (!m) return { digits: s, unit: null };
  return { digits: m[1], unit: m[2] === YUAN ? 'yuan' : 'wan' };
}

function scaled(text, scale, decimals) {
  const s = plain(text);
  if (s === '') return null;
  const m = s.match(/^(\d+)(?:\.(\d*))?$/);
  if (!m) return undefined;
  const frac = m[2] || '';
  if (frac.length > decimals) return undefined;
  const fen = BigInt(m[1]) * scale + BigInt(frac.padEnd(decimals, '0') || '0');
  if (fen > BigInt(Number.MAX_SAFE_INTEGER)) return undefined;
  return Number(fen);
}

/** An amount in `unit` ('wan' or 'yuan') unless the text names its own unit. */
function parseMoney(text, unit) {
  const { digits, unit: typed } = unitOf(text);
  if (typed && digits === '') return undefined;
  return (typed ?? unit) === 'wan' ? scaled(digits, FEN_PER_WAN, 6) : scaled(digits, FEN_PER_YUAN, 2);
}

/** "30.5" wan → 30500000 fen (8000 typed with the yuan character → 800000: a unit typed
 * wins); null when empty;
 * undefined when not a valid amount. */
export function parseWanToFen(text) {
  return parseMoney(text, 'wan');
}

/** "1234.56" yuan → 123456 fen (8 typed with the wan character → 8000000: a unit typed
 * wins); null when empty;
 * undefined when invalid. */
export function parseYuanToFen(text) {
  return parseMoney(text, 'yuan');
}

function decimal(fen, scale, decimals) {
  if (fen == null || fen === '') return '';
  const v = BigInt(fen);
  const neg = v < 0n;
  const a = neg ? -v : v;
  const whole = a / scale;
  const frac = (a % scale).toString().padStart(decimals, '0').replace(/0+$/, '');
  return `${neg ? '-' : ''}${whole}${frac ? `.${frac}` : ''}`;
}

/** 30500000 fen → "30.5" (wan); "" when absent. */
export function fenToWan(fen) {
  return decimal(fen, FEN_PER_WAN, 6);
}

/** 123456 fen → "1234.56" (yuan); "" when absent. */
export function fenToYuan(fen) {
  return decimal(fen, FEN_PER_YUAN, 2);
}

/** "4.9" (percent) → 490 basis points; null when empty; undefined when invalid (more than two decimals). */
export function parsePercentToBp(text) {
  return scaled(text, 100n, 2);
}

/** 123456789 fen → "1,234,567.89" (always two decimals, thousands grouped); "" when absent. */
export function formatYuan(fen) {
  if (fen == null || fen === '') return '';
  const v = BigInt(fen);
  const neg = v < 0n;
  const a = neg ? -v : v;
  const whole = (a / FEN_PER_YUAN).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  const cents = (a % FEN_PER_YUAN).toString().padStart(2, '0');
  return `${neg ? '-' : ''}${whole}.${cents}`;
}

/** 490 basis points → "4.90%"; "" when absent. */
export function formatBpPercent(bp) {
  if (bp == null || bp === '') return '';
  const v = BigInt(bp);
  const neg = v < 0n;
  const a = neg ? -v : v;
  return `${neg ? '-' : ''}${a / 100n}.${(a % 100n).toString().padStart(2, '0')}%`;
}
