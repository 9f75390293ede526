// Money is stored as integer fen. The UI shows and takes yuan or
// wan (10,000 yuan); conversions go through decimal strings and BigInt, never floats, so
// "30.5" wan is exactly 30500000 fen.

const FEN_PER_YUAN = 100n;
const FEN_PER_WAN = 1000000n;

function scaled(text, scale, decimals) {
  const s = String(text ?? '').trim().replace(/[,\s]/g, '');
  if (s === '') return null;
  const m = s.match(/^(\d+)(?:\.(\d*))?$/);
  if (!m) return undefined;
  const frac = m[2] || '';
  if (frac.length > decimals) return undefined;
  const fen = BigInt(m[1]) * scale + BigInt(frac.padEnd(decimals, '0') || '0');
  if (fen > BigInt(Number.MAX_SAFE_INTEGER)) return undefined;
  return Number(fen);
}

/** "30.5" wan → 30500000 fen; null when empty; undefined when not a valid amount. */
export function parseWanToFen(text) {
  return scaled(text, FEN_PER_WAN, 6);
}

/** "1234.56" yuan → 123456 fen; null when empty; undefined when invalid. */
export function parseYuanToFen(text) {
  return scaled(text, FEN_PER_YUAN, 2);
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
