// Labels for what a role can grant: capabilities (grouped by prefix), field
// privileges and data scopes. Capabilities the server knows but this list
// does not are still shown, under their code, in the "other" group.
import { t } from '../i18n/index.js';

export const CAPABILITY_GROUPS = [
  { prefix: 'customer', labelKey: 'capGroup.customer' },
  { prefix: 'pool', labelKey: 'capGroup.pool' },
  { prefix: 'deal', labelKey: 'capGroup.deal' },
  { prefix: 'product', labelKey: 'capGroup.product' },
  { prefix: 'finance', labelKey: 'capGroup.finance' },
  { prefix: 'report', labelKey: 'capGroup.report' },
  { prefix: 'plugin', labelKey: 'capGroup.plugin' },
  { prefix: 'user', labelKey: 'capGroup.user' },
  { prefix: 'audit', labelKey: 'capGroup.audit' },
  { prefix: 'backup', labelKey: 'capGroup.backup' },
  { prefix: 'settings', labelKey: 'capGroup.settings' },
];
const OTHER_GROUP = { prefix: '', labelKey: 'capGroup.other' };

export const CAPABILITY_LABELS = [
  { cap: 'customer.read', labelKey: 'cap.customer.read' },
  { cap: 'customer.create', labelKey: 'cap.customer.create' },
  { cap: 'customer.edit', labelKey: 'cap.customer.edit' },
  { cap: 'customer.delete', labelKey: 'cap.customer.delete' },
  { cap: 'customer.transfer', labelKey: 'cap.customer.transfer' },
  { cap: 'customer.assign', labelKey: 'cap.customer.assign' },
  { cap: 'customer.export', labelKey: 'cap.customer.export' },
  { cap: 'customer.import', labelKey: 'cap.customer.import' },
  { cap: 'pool.claim', labelKey: 'cap.pool.claim' },
  { cap: 'pool.manage', labelKey: 'cap.pool.manage' },
  { cap: 'deal.read', labelKey: 'cap.deal.read' },
  { cap: 'deal.create', labelKey: 'cap.deal.create' },
  { cap: 'deal.edit', labelKey: 'cap.deal.edit' },
  { cap: 'deal.stage', labelKey: 'cap.deal.stage' },
  { cap: 'product.manage', labelKey: 'cap.product.manage' },
  { cap: 'finance.read', labelKey: 'cap.finance.read' },
  { cap: 'finance.edit', labelKey: 'cap.finance.edit' },
  { cap: 'report.view', labelKey: 'cap.report.view' },
  { cap: 'plugin.manage', labelKey: 'cap.plugin.manage' },
  { cap: 'user.manage', labelKey: 'cap.user.manage' },
  { cap: 'audit.view', labelKey: 'cap.audit.view' },
  { cap: 'backup.run', labelKey: 'cap.backup.run' },
  { cap: 'settings.manage', labelKey: 'cap.settings.manage' },
  { cap: 'lead.check', labelKey: 'cap.lead.check' },
  { cap: 'call.ingest', labelKey: 'cap.call.ingest' },
  { cap: 'referral.submit', labelKey: 'cap.referral.submit' },
];

export const FIELD_PRIVILEGE_LABELS = [
  { priv: 'phone.view_full', labelKey: 'priv.phone.view_full', noteKey: 'priv.phone.view_full.note' },
  { priv: 'id_number.view_full', labelKey: 'priv.id_number.view_full', noteKey: 'priv.id_number.view_full.note' },
  { priv: 'phone.view_own', labelKey: 'priv.phone.view_own', noteKey: 'priv.phone.view_own.note' },
];

export const DATA_SCOPES = [
  { value: 'self', labelKey: 'scope.self', noteKey: 'scope.self.note' },
  { value: 'department', labelKey: 'scope.department', noteKey: 'scope.department.note' },
  { value: 'department_tree', labelKey: 'scope.department_tree', noteKey: 'scope.department_tree.note' },
  { value: 'all', labelKey: 'scope.all', noteKey: 'scope.all.note' },
];

const capIndex = new Map(CAPABILITY_LABELS.map((c) => [c.cap, c]));
const privIndex = new Map(FIELD_PRIVILEGE_LABELS.map((p) => [p.priv, p]));

export function capabilityLabel(cap) {
  const known = capIndex.get(cap);
  return known ? t(known.labelKey) : cap;
}

export function privilegeLabel(priv) {
  const known = privIndex.get(priv);
  return known ? t(known.labelKey) : priv;
}

export function scopeLabel(scope) {
  const known = DATA_SCOPES.find((s) => s.value === scope);
  return known ? t(known.labelKey) : scope;
}

/**
 * The grantable capabilities (from GET /roles) in groups:
 * [{ prefix, label, caps: [code…] }], groups in CAPABILITY_GROUPS order.
 */
export function groupCapabilities(all) {
  const groups = CAPABILITY_GROUPS.map((g) => ({ ...g, caps: [] }));
  const other = { ...OTHER_GROUP, caps: [] };
  for (const cap of all) {
    const prefix = cap.split('.')[0];
    const group = groups.find((g) => g.prefix === prefix) || other;
    group.caps.push(cap);
  }
  return [...groups, other]
    .filter((g) => g.caps.length)
    .map((g) => ({ prefix: g.prefix || 'other', label: t(g.labelKey), caps: g.caps }));
}
