import { html } from '../html.js';
import { LOCALES, locale, setLocale, t } from '../i18n/index.js';

const LABELS = {
  'zh-CN': () => t('locale.name.zh-CN'),
  en: () => t('locale.name.en'),
};

/** Segmented zh / EN switch; data-testid="locale-switch", buttons "locale-<code>". */
export function LocaleSwitch() {
  const current = locale.value;
  return html`<div class="locale-switch" role="group" aria-label=${t('locale.switch')} data-testid="locale-switch">
    ${LOCALES.map(
      (code) => html`<button type="button" key=${code} lang=${code}
        class=${code === current ? 'is-active' : ''}
        aria-pressed=${String(code === current)}
        data-testid=${`locale-${code}`}
        onClick=${() => setLocale(code)}>${LABELS[code]()}</button>`,
    )}
  </div>`;
}
