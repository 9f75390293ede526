// Signed-in pages. Each entry: { id, path, key (i18n key of the title and
// nav label), icon, page, nav (shown in the left navigation),
// capability (optional: hidden from nav and refused when the user lacks it) }.
// Add a module by adding a page file and an entry here.
import { DashboardPage } from './pages/dashboard.js';
import { SystemPage } from './pages/system.js';

export const ROUTES = [
  { id: 'dashboard', path: '/', key: 'nav.dashboard', icon: 'dashboard', page: DashboardPage, nav: true },
  { id: 'system', path: '/system', key: 'nav.system', icon: 'system', page: SystemPage, nav: true },
];

function normalize(path) {
  return path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
}

export function matchRoute(path) {
  const p = normalize(path);
  return ROUTES.find((r) => r.path === p) || null;
}

export function isActive(r, path) {
  const p = normalize(path);
  return r.path === '/' ? p === '/' : p === r.path || p.startsWith(`${r.path}/`);
}
