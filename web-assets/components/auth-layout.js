// Frame for the pages shown before sign-in (login, setup): brand, a card,
// and the language switch in the corner.
import { html } from '../html.js';
import { t } from '../i18n/index.js';
import { LocaleSwitch } from './locale-switch.js';
import { LOGO_URL } from './icons.js';

export function AuthLayout({ title, subtitle, children, testid }) {
  return html`<div class="auth-page" data-testid=${testid}>
    <div class="auth-corner"><${LocaleSwitch} /></div>
    <div class="auth-center">
      <div class="auth-brand">
        <img class="auth-logo" src=${LOGO_URL} alt="" width="40" height="40" />
        <div>
          <div class="auth-product" data-testid="product-name">
            <span class="brand-zh">${t('app.brand')}</span>
            <span class="brand-latin">${t('app.brandLatin')}</span>
          </div>
          <div class="auth-tagline">${t('app.tagline')}</div>
        </div>
      </div>
      <div class="card auth-card">
        <h1 class="auth-title">${title}</h1>
        ${subtitle && html`<p class="auth-subtitle">${subtitle}</p>`}
        ${children}
      </div>
      <p class="auth-footer">${t('app.footer')}</p>
    </div>
  </div>`;
}
