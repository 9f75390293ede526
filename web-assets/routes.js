// Signed-in pages. Each entry: { id, path, key (i18n key of the title and
// nav label), icon, page, nav (shown in the left navigation),
// capability (optional: hidden from nav and refused when the user lacks it), scope
// (optional, 'all': also needs a firm-wide data scope, as the server does),
// sectionKey (optional: i18n key of a nav section heading; entries with the
// same sectionKey are listed together under it, after the entries without) }.
// Add a module by adding a page file and an entry here.
import { DashboardPage } from './pages/dashboard.js';
import { SystemPage } from './pages/system.js';
import { AdminUsersPage } from './pages/admin-users.js';
import { AdminDepartmentsPage } from './pages/admin-departments.js';
import { AdminRolesPage } from './pages/admin-roles.js';
import { AdminAuditPage } from './pages/admin-audit.js';
import { AccountPage } from './pages/account.js';
import { AdminBackupPage } from './pages/admin-backup.js';
import { CustomersPage } from './pages/customers.js';
import { CustomerDetailPage } from './pages/customer-detail.js';
import { ImportPage } from './pages/import.js';
import { PoolsPage } from './pages/pools.js';
import { AdminPoolsPage } from './pages/admin-pools.js';
import { AdminPluginsPage } from './pages/admin-plugins.js';
import { AdminCustomerSettingsPage } from './pages/admin-customer-settings.js';
import { CalculatorPage } from './pages/calculator.js';
import { AdminProductsPage } from './pages/admin-products.js';
import { FunnelPage } from './pages/funnel.js';
import { ReportsPage } from './pages/reports.js';
import { DealsPage } from './pages/deals.js';
import { DealDetailPage } from './pages/deal-detail.js';
import { DocumentsPage } from './pages/documents.js';
import { AdminApplyPage } from './pages/admin-apply.js';
import { LeadCheckPage } from './pages/lead-check.js';
import { FinancePage } from './pages/finance.js';
import { CommissionsPage } from './pages/commissions.js';
import { TargetsPage } from './pages/targets.js';
import { AdminContractTemplatesPage } from './pages/admin-contract-templates.js';
import { ChannelsPage } from './pages/channels.js';
import { AdminBrokersPage } from './pages/admin-brokers.js';
import { ReferralFeesPage } from './pages/referral-fees.js';

export const ROUTES = [
  { id: 'dashboard', path: '/', key: 'nav.dashboard', icon: 'dashboard', page: DashboardPage, nav: true },
  { id: 'customers', path: '/customers', key: 'nav.customers', icon: 'contacts', page: CustomersPage, nav: true, capability: 'customer.read' },
  { id: 'customer-import', path: '/customers/import', key: 'nav.import', icon: 'contacts', page: ImportPage, nav: false, capability: 'customer.import' },
  // A route with `pattern` matches by regular expression (the page reads its parameters from the path).
  { id: 'customer-detail', path: '/customers/:id', pattern: /^\/customers\/[^/]+$/, key: 'customer.title', icon: 'contacts', page: CustomerDetailPage, nav: false, capability: 'customer.read' },
  { id: 'deals', path: '/deals', key: 'nav.deals', icon: 'folder', page: DealsPage, nav: true, capability: 'deal.read' },
  { id: 'deal-detail', path: '/deals/:id', pattern: /^\/deals\/[^/]+$/, key: 'deal.title', icon: 'folder', page: DealDetailPage, nav: false, capability: 'deal.read' },
  // Documents custody: the documents clerk, officers and managers (every deal reader; the server scopes the list).
  { id: 'documents', path: '/documents', key: 'nav.documents', icon: 'lock', page: DocumentsPage, nav: true, capability: 'deal.read' },
  { id: 'pools', path: '/pools', key: 'nav.pools', icon: 'inbox', page: PoolsPage, nav: true, capability: 'customer.read' },
  { id: 'lead-check', path: '/leads/check', key: 'nav.leadCheck', icon: 'userCheck', page: LeadCheckPage, nav: true, capability: 'lead.check' },
  { id: 'funnel', path: '/reports/funnel', key: 'nav.funnel', icon: 'funnel', page: FunnelPage, nav: true, capability: 'customer.read' },
  { id: 'reports', path: '/reports', key: 'nav.reports', icon: 'chart', page: ReportsPage, nav: true, capability: 'customer.read' },
  // Everyone's own commission statement (others' with finance.read, in scope).
  { id: 'commissions', path: '/commissions', key: 'nav.commissions', icon: 'coins', page: CommissionsPage, nav: true },
  { id: 'targets', path: '/targets', key: 'nav.targets', icon: 'target', page: TargetsPage, nav: true },
  { id: 'finance-receivables', path: '/finance/receivables', key: 'nav.finance.receivables', icon: 'wallet', page: FinancePage, nav: true, capability: 'finance.read', sectionKey: 'nav.section.finance' },
  { id: 'finance-payments', path: '/finance/payments', key: 'nav.finance.payments', icon: 'receipt', page: FinancePage, nav: true, capability: 'finance.read', sectionKey: 'nav.section.finance' },
  { id: 'finance-overdue', path: '/finance/overdue', key: 'nav.finance.overdue', icon: 'clock', page: FinancePage, nav: true, capability: 'finance.read', sectionKey: 'nav.section.finance' },
  { id: 'finance-rebates', path: '/finance/rebates', key: 'nav.finance.rebates', icon: 'percent', page: FinancePage, nav: true, capability: 'finance.read', sectionKey: 'nav.section.finance' },
  { id: 'finance-months', path: '/finance/months', key: 'nav.finance.months', icon: 'calendar', page: FinancePage, nav: true, capability: 'finance.read', sectionKey: 'nav.section.finance' },
  // Channels are firm-wide numbers: finance.read with a firm-wide data scope (the server refuses a manager's department scope).
  { id: 'finance-channels', path: '/finance/channels', key: 'nav.finance.channels', icon: 'share', page: ChannelsPage, nav: true, capability: 'finance.read', scope: 'all', sectionKey: 'nav.section.finance' },
  { id: 'finance-referral-fees', path: '/finance/referral-fees', key: 'nav.finance.referralFees', icon: 'handshake', page: ReferralFeesPage, nav: true, capability: 'finance.read', sectionKey: 'nav.section.finance' },
  // Every signed-in user: the calculator reads no customer data.
  { id: 'calculator', path: '/tools/calculator', key: 'nav.calculator', icon: 'calculator', page: CalculatorPage, nav: true },
  { id: 'system', path: '/system', key: 'nav.system', icon: 'system', page: SystemPage, nav: true, capability: 'settings.manage' },
  { id: 'admin-users', path: '/admin/users', key: 'nav.adminUsers', icon: 'users', page: AdminUsersPage, nav: true, capability: 'user.manage', sectionKey: 'nav.section.settings' },
  { id: 'admin-brokers', path: '/admin/brokers', key: 'nav.adminBrokers', icon: 'briefcase', page: AdminBrokersPage, nav: true, capability: 'user.manage', sectionKey: 'nav.section.settings' },
  { id: 'admin-departments', path: '/admin/departments', key: 'nav.adminDepartments', icon: 'departments', page: AdminDepartmentsPage, nav: true, capability: 'user.manage', sectionKey: 'nav.section.settings' },
  { id: 'admin-roles', path: '/admin/roles', key: 'nav.adminRoles', icon: 'shield', page: AdminRolesPage, nav: true, capability: 'user.manage', sectionKey: 'nav.section.settings' },
  { id: 'admin-products', path: '/admin/products', key: 'nav.adminProducts', icon: 'box', page: AdminProductsPage, nav: true, capability: 'product.manage', sectionKey: 'nav.section.settings' },
  { id: 'admin-contract-templates', path: '/admin/contract-templates', key: 'nav.adminContractTemplates', icon: 'fileText', page: AdminContractTemplatesPage, nav: true, capability: 'settings.manage', sectionKey: 'nav.section.settings' },
  { id: 'admin-pools', path: '/admin/pools', key: 'nav.adminPools', icon: 'inbox', page: AdminPoolsPage, nav: true, capability: 'pool.manage', sectionKey: 'nav.section.settings' },
  { id: 'admin-apply', path: '/admin/apply', key: 'nav.adminApply', icon: 'form', page: AdminApplyPage, nav: true, capability: 'settings.manage', sectionKey: 'nav.section.settings' },
  { id: 'admin-customer-settings', path: '/admin/customer-settings', key: 'nav.adminCustomerSettings', icon: 'sliders', page: AdminCustomerSettingsPage, nav: true, capability: 'settings.manage', sectionKey: 'nav.section.settings' },
  { id: 'admin-plugins', path: '/admin/plugins', key: 'nav.adminPlugins', icon: 'puzzle', page: AdminPluginsPage, nav: true, capability: 'plugin.manage', sectionKey: 'nav.section.settings' },
  { id: 'admin-audit', path: '/admin/audit', key: 'nav.adminAudit', icon: 'audit', page: AdminAuditPage, nav: true, capability: 'audit.view', sectionKey: 'nav.section.settings' },
  { id: 'admin-backup', path: '/admin/backup', key: 'nav.adminBackup', icon: 'backup', page: AdminBackupPage, nav: true, capability: 'backup.run', sectionKey: 'nav.section.settings' },
  // In the user menu, not in the left navigation.
  { id: 'account', path: '/account', key: 'nav.account', icon: 'user', page: AccountPage, nav: false },
];

function normalize(path) {
  return path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
}

export function matchRoute(path) {
  const p = normalize(path);
  return ROUTES.find((r) => r.path === p) || ROUTES.find((r) => r.pattern && r.pattern.test(p)) || null;
}

export function isActive(r, path) {
  const p = normalize(path);
  return r.path === '/' ? p === '/' : p === r.path || p.startsWith(`${r.path}/`);
}
