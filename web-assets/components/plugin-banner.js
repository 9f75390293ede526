// A bar under the top bar while a plugin hook is failing at run time (its last call threw or
// returned a result outside its schema). Only for users with plugin.manage: GET /api/v1/plugins
// is fetched on each page change, the plugins page keeps the list fresh itself.
import { useEffect } from '../vendor/preact/hooks.module.js';
import { signal } from '../vendor/signals/signals.module.js';
import { html } from '../html.js';
import { t } from '../i18n/index.js';
import { api } from '../api.js';
import { can, session } from '../auth.js';
import { route } from '../router.js';
import { Icon } from './icons.js';

export const PLUGINS_PATH = '/admin/plugins';

/** The hooks failing now (null until loaded, or for users without plugin.manage). */
export const failingHooks = signal(null);

/** Sets the banner from a GET /api/v1/plugins answer. */
export function notePlugins(list) {
  // A custom report's failure (report.*) shows on its report and the plugins page only: it
  // decides nothing about customers, so it raises no banner.
  failingHooks.value = list.flatMap((p) => p.failing || []).filter((h) => !h.startsWith('report.'));
}

export function PluginBanner() {
  const user = session.value;
  const allowed = can('plugin.manage');
  const path = route.value.path;
  useEffect(() => {
    if (!user || !allowed) {
      failingHooks.value = null;
      return;
    }
    api('GET', '/api/v1/plugins').then(notePlugins).catch(() => {
      // The banner is a hint: a failed fetch shows nothing (the plugins page reports errors).
    });
  }, [user, allowed, path]);
  const hooks = failingHooks.value;
  if (!allowed || !hooks || hooks.length === 0) return null;
  return html`<div class="backup-banner" role="alert" data-testid="plugin-banner">
    <${Icon} name="alert" size=${16} />
    <span>${t('plugins.banner.failing', { hooks: hooks.join('、') })}</span>
    ${path !== PLUGINS_PATH && html`<a href=${PLUGINS_PATH} data-testid="plugin-banner-link">${t('plugins.banner.link')}</a>`}
  </div>`;
}
