// Why a customer went where it did, in the reader's language. The server writes the built-in
// assignment rule's reasons in Chinese into the timeline (a plugin may write its own text,
// shown as written); the zh-CN dictionary's `assign.reason.*` entries are those exact texts,
// so a note is matched against them (placeholders included) and shown through t().
import { t } from '../i18n/index.js';
import zh from '../i18n/zh-CN.js';

const escape = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** [key, regex, placeholder names] for every `assign.reason.*` text, longest first. */
const PATTERNS = Object.entries(zh)
  .filter(([k]) => k.startsWith('assign.reason.'))
  .sort((a, b) => b[1].length - a[1].length)
  .map(([key, text]) => {
    const names = [];
    const source = text.split(/(\{\w+\})/).map((part) => {
      const m = part.match(/^\{(\w+)\}$/);
      if (!m) return escape(part);
      names.push(m[1]);
      return '(.+)';
    }).join('');
    return [key, new RegExp(`^${source}$`), names];
  });

/** A timeline note about an assignment → the reader's language (unknown text unchanged). */
export function assignReasonText(note) {
  if (!note) return note;
  for (const [key, re, names] of PATTERNS) {
    const m = note.match(re);
    if (!m) continue;
    const values = {};
    names.forEach((n, i) => { values[n] = n === 'reason' ? assignReasonText(m[i + 1]) : m[i + 1]; });
    return t(key, values);
  }
  return note;
}
