// What a money input will record, under the input as it is typed: "= 8 wan (80,000.00 yuan)".
// Forms take yuan in some places and wan in others; the echo shows which before it is saved
// (8 typed as wan where yuan was meant is a thousand times off).
import { t } from '../i18n/index.js';
import { fenToWan, formatYuan, parseWanToFen, parseYuanToFen } from '../money.js';

/** The echo of `text` in a field whose unit is `unit` ('wan' or 'yuan'); undefined when the
 * field is empty or the text is not an amount (the form says why on submit). */
export function moneyHint(text, unit) {
  const fen = unit === 'wan' ? parseWanToFen(text) : parseYuanToFen(text);
  if (fen == null) return undefined;
  return t('money.echo', { wan: fenToWan(fen), yuan: formatYuan(fen) });
}
