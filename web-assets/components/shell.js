// The signed-in frame: top bar, left navigation, content; on a phone a bottom tab bar.
import { html } from '../html.js';
import { t } from '../i18n/index.js';
import { LocaleSwitch } from './locale-switch.js';
import { Nav, TabBar } from './nav.js';
import { UserMenu } from './user-menu.js';
import { Toasts } from './toast.js';
import { BackupBanner } from './backup.js';
import { PluginBanner } from './plugin-banner.js';
import { ReminderBadge } from './reminders.js';
import { NoticeBell } from './notices.js';
import { LOGO_URL } from './icons.js';
import { GlobalSearch } from './global-search.js';

export function TopBar() {
  return html`<header class="topbar" data-testid="topbar">
    <a class="topbar-brand" href="/" data-testid="brand">
      <img src=${LOGO_URL} alt="" width="28" height="28" />
      <span class="brand-zh">${t('app.brand')}</span>
      <span class="brand-latin">${t('app.brandLatin')}</span>
    </a>
    <${GlobalSearch} />
    <div class="topbar-spacer"></div>
    <${ReminderBadge} />
    <${NoticeBell} />
    <${LocaleSwitch} />
    <${UserMenu} />
  </header>`;
}

export function Shell({ children }) {
  return html`<div class="shell" data-testid="shell">
    <${TopBar} />
    <${BackupBanner} />
    <${PluginBanner} />
    <div class="shell-body">
      <${Nav} />
      <main class="content" id="main" data-testid="content">${children}</main>
    </div>
    <${TabBar} />
    <${Toasts} />
  </div>`;
}
