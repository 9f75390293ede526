import { signal } from '../vendor/signals/signals.module.js';
import { api } from '../api.js';
import { locale, t } from '../i18n/index.js';

// Known role ids → labels; unknown roles are shown as their id.
const ROLE_LABELS = {
  admin: () => t('role.admin'),
  manager: () => t('role.manager'),
  sales: () => t('role.sales'),
  finance: () => t('role.finance'),
  documents: () => t('role.documents'),
  service: () => t('role.service'),
  broker: () => t('role.broker'),
};

/** Built-in role keys in display order (the server lists roles by key). */
export const BUILTIN_ORDER = ['admin', 'manager', 'sales', 'finance', 'documents', 'service', 'broker'];

/**
 * The role records from GET /api/v1/roles once a page has loaded them
 * ({ items, capabilities, field_privileges }), so labels follow renames and
 * the firm's own roles get their names.
 */
export const roleCatalog = signal(null);

export async function loadRoles() {
  const data = await api('GET', '/api/v1/roles');
  roleCatalog.value = data;
  return data;
}

/** Built-in roles first (in their usual order), then the firm's own by key. */
export function sortRoles(items) {
  const rank = (r) => {
    const i = BUILTIN_ORDER.indexOf(r.key);
    return r.builtin && i >= 0 ? i : BUILTIN_ORDER.length;
  };
  return [...items].sort((a, b) => rank(a) - rank(b) || a.key.localeCompare(b.key));
}

/**
 * The name to show for a role record: its stored name (Chinese, editable),
 * except that built-in roles get their translated name outside zh-CN.
 */
export function roleName(role) {
  if (role.builtin && ROLE_LABELS[role.key] && locale.value !== 'zh-CN') return ROLE_LABELS[role.key]();
  return role.name || role.key;
}

export function roleLabel(role) {
  const record = roleCatalog.value?.items?.find((r) => r.key === role);
  if (record) return roleName(record);
  return ROLE_LABELS[role] ? ROLE_LABELS[role]() : role;
}
