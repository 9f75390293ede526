// Locale state and translation. zh-CN is the default; the choice persists
// in localStorage under "zhudai.locale". Reading t() during a component's
// render subscribes that component to the locale signal, so switching the
// locale re-renders everything that shows text.
import { signal } from '../vendor/signals/signals.module.js';
import zhCN from './zh-CN.js';
import en from './en.js';

export const DEFAULT_LOCALE = 'zh-CN';
export const LOCALES = ['zh-CN', 'en'];
const DICTIONARIES = { 'zh-CN': zhCN, en };
const STORAGE_KEY = 'zhudai.locale';

function storedLocale() {
  try {
    const value = localStorage.getItem(STORAGE_KEY);
    if (value && Object.hasOwn(DICTIONARIES, value)) return value;
  } catch {
    // storage unavailable (privacy mode): fall back to the default
  }
  return DEFAULT_LOCALE;
}

export const locale = signal(storedLocale());
document.documentElement.lang = locale.value;

export function setLocale(next) {
  if (!Object.hasOwn(DICTIONARIES, next)) return;
  try {
    localStorage.setItem(STORAGE_KEY, next);
  } catch {
    // not persisted; still switch for this page
  }
  document.documentElement.lang = next;
  locale.value = next;
}

/** Whether the default dictionary has `key` (for keys built from API error codes). */
export function has(key) {
  return Object.hasOwn(DICTIONARIES[DEFAULT_LOCALE], key);
}

/** t('login.title'), t('error.throttled', { seconds: 30 }) — "{seconds}" placeholders. */
export function t(key, params) {
  const dictionary = DICTIONARIES[locale.value];
  let text = dictionary[key] ?? DICTIONARIES[DEFAULT_LOCALE][key];
  if (text === undefined) {
    console.warn(`i18n: missing key "${key}"`);
    return key;
  }
  if (params) {
    text = text.replace(/\{(\w+)\}/g, (match, name) => (name in params ? String(params[name]) : match));
  }
  return text;
}
