// Left navigation, generated from ROUTES (routes.js): every route with
// nav: true, hidden when the user lacks its capability. Routes with a
// sectionKey are grouped under that heading (a section with no visible entry
// is not shown).
import { html } from '../html.js';
import { t } from '../i18n/index.js';
import { canRoute } from '../auth.js';
import { route } from '../router.js';
import { ROUTES, isActive } from '../routes.js';
import { Icon } from './icons.js';

function NavList({ items, path, labelledBy }) {
  return html`<ul class="sidenav-list" aria-labelledby=${labelledBy}>
    ${items.map((r) => {
      const active = isActive(r, path);
      return html`<li key=${r.id}>
        <a href=${r.path} class=${`sidenav-item${active ? ' is-active' : ''}`}
          aria-current=${active ? 'page' : undefined} title=${t(r.key)} data-testid=${`nav-${r.id}`}>
          <${Icon} name=${r.icon} />
          <span>${t(r.key)}</span>
        </a>
      </li>`;
    })}
  </ul>`;
}

export function Nav() {
  const path = route.value.path;
  const items = ROUTES.filter((r) => r.nav && canRoute(r));
  const top = items.filter((r) => !r.sectionKey);
  const sections = [];
  for (const r of items) {
    if (!r.sectionKey) continue;
    let section = sections.find((s) => s.sectionKey === r.sectionKey);
    if (!section) {
      section = { sectionKey: r.sectionKey, items: [] };
      sections.push(section);
    }
    section.items.push(r);
  }
  return html`<nav class="sidenav" aria-label=${t('nav.label')} data-testid="nav">
    <${NavList} items=${top} path=${path} />
    ${sections.map((s) => {
      const name = s.sectionKey.split('.').pop();
      return html`<div class="sidenav-section" key=${s.sectionKey} data-testid=${`nav-section-${name}`}>
        <div class="sidenav-section-title" id=${`nav-section-${name}`}>${t(s.sectionKey)}</div>
        <${NavList} items=${s.items} path=${path} labelledBy=${`nav-section-${name}`} />
      </div>`;
    })}
  </nav>`;
}
