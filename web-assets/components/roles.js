import { t } from '../i18n/index.js';

// Known role ids → labels; unknown roles are shown as their id.
const ROLE_LABELS = {
  admin: () => t('role.admin'),
  manager: () => t('role.manager'),
  sales: () => t('role.sales'),
  finance: () => t('role.finance'),
  documents: () => t('role.documents'),
  service: () => t('role.service'),
};

export function roleLabel(role) {
  return ROLE_LABELS[role] ? ROLE_LABELS[role]() : role;
}
