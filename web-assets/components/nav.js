// Left navigation, generated from ROUTES (routes.js): every route with
// nav: true, hidden when the user lacks its capability. Routes with a
// sectionKey are grouped under that heading (a section with no visible entry
// is not shown).
// On a phone (≤ 600 px, styles.css) the left navigation gives way to a bottom tab bar: the
// daily pages the user may open (at most four, in the order of TAB_IDS) with their names, and
// More, which opens the full navigation as a sheet with every page named.
import { useEffect } from '../vendor/preact/hooks.module.js';
import { signal } from '../vendor/signals/signals.module.js';
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

/** The tab bar's candidates, most used first. */
const TAB_IDS = ['dashboard', 'customers', 'deals', 'pools', 'reports', 'commissions', 'calculator'];
const TABS = 4;

/** The phone's More sheet is open. */
const moreOpen = signal(false);

function navItems() {
  return ROUTES.filter((r) => r.nav && canRoute(r));
}

export function TabBar() {
  const path = route.value.path;
  const items = navItems();
  const tabs = TAB_IDS.map((id) => items.find((r) => r.id === id)).filter(Boolean).slice(0, TABS);
  const inMore = !tabs.some((r) => isActive(r, path));
  const open = moreOpen.value;
  return html`<nav class="tabbar" aria-label=${t('nav.tabs')} data-testid="tabbar">
    ${tabs.map((r) => {
      const active = isActive(r, path) && !open;
      return html`<a key=${r.id} href=${r.path} class=${`tabbar-item${active ? ' is-active' : ''}`}
        aria-current=${active ? 'page' : undefined} data-testid=${`tab-${r.id}`} onClick=${() => { moreOpen.value = false; }}>
        <${Icon} name=${r.icon} size=${20} /><span>${t(r.key)}</span>
      </a>`;
    })}
    <button type="button" class=${`tabbar-item${open || inMore ? ' is-active' : ''}`} aria-expanded=${open ? 'true' : 'false'}
      aria-controls="main-nav" onClick=${() => { moreOpen.value = !open; }} data-testid="nav-more">
      <${Icon} name="grid" size=${20} /><span>${t('nav.more')}</span>
    </button>
  </nav>`;
}

export function Nav() {
  const path = route.value.path;
  const items = navItems();
  const open = moreOpen.value;
  // A page picked (or Back pressed) closes the sheet.
  useEffect(() => { moreOpen.value = false; }, [path]);
  useEffect(() => {
    if (!open) return undefined;
    const onKey = (e) => { if (e.key === 'Escape') moreOpen.value = false; };
    document.addEventListener('keydown', onKey);
    return () => document.removeEventListener('keydown', onKey);
  }, [open]);
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
  return html`${open && html`<div class="sidenav-backdrop" onClick=${() => { moreOpen.value = false; }}
    data-testid="nav-backdrop"></div>`}
  <nav class=${`sidenav${open ? ' is-open' : ''}`} id="main-nav" aria-label=${t('nav.label')} data-testid="nav"
    onClick=${(e) => { if (e.target.closest('a')) moreOpen.value = false; }}>
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
