// Left navigation, generated from ROUTES (routes.js): every route with
// nav: true, hidden when the user lacks its capability.
import { html } from '../html.js';
import { t } from '../i18n/index.js';
import { can } from '../auth.js';
import { route } from '../router.js';
import { ROUTES, isActive } from '../routes.js';
import { Icon } from './icons.js';

export function Nav() {
  const path = route.value.path;
  const items = ROUTES.filter((r) => r.nav && can(r.capability));
  return html`<nav class="sidenav" aria-label=${t('nav.label')} data-testid="nav">
    <ul class="sidenav-list">
      ${items.map((r) => {
        const active = isActive(r, path);
        return html`<li key=${r.id}>
          <a href=${r.path} class=${`sidenav-item${active ? ' is-active' : ''}`}
            aria-current=${active ? 'page' : undefined} data-testid=${`nav-${r.id}`}>
            <${Icon} name=${r.icon} />
            <span>${t(r.key)}</span>
          </a>
        </li>`;
      })}
    </ul>
  </nav>`;
}
