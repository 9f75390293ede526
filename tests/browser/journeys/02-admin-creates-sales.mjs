// The administrator sets up the organisation: first-run setup → a department 成都一部 → a sales
// user in it (a taken username is refused next to the field) → deleting the non-empty department
// is refused with a clear message → log out → the sales user logs in and sees only their own area
// of the navigation (after choosing their own password in place of the one the administrator
// set), while /admin/users opened directly shows the forbidden page → on "my account"
// they change their password (every session ends, back to the login page) → the administrator's
// audit log shows the user.created entry. Screenshots of the pages go to
// tests/browser/artifacts/02-*.png.
import { join } from 'node:path';
import { artifacts, assert } from '../harness.mjs';

const ADMIN = { username: 'boss', display: '王老板', password: 'a long enough pass' };
const SALES = {
  username: 'zhang.wei', display: '张伟', password: 'chengdu sales 2026', ownPassword: 'my own chengdu 2026', newPassword: 'tianfu square 88',
};
const DEPARTMENT = '成都一部';

const shot = (page, name) => page.screenshot({ path: join(artifacts, `02-${name}.png`) });

async function logIn(page, { username, password }) {
  await page.getByTestId('login-form').waitFor();
  await page.getByTestId('login-username').fill(username);
  await page.getByTestId('login-password').fill(password);
  await page.getByTestId('login-password').press('Enter');
  await page.getByTestId('shell').waitFor();
}

async function logOut(page) {
  await page.getByTestId('user-menu').click();
  await page.getByTestId('logout').click();
  await page.getByTestId('login-form').waitFor();
}

async function navIds(page) {
  return page.getByTestId('nav').locator('a[data-testid^="nav-"]')
    .evaluateAll((links) => links.map((a) => a.dataset.testid));
}

export default async function ({ page, server }) {
  // First run: create the administrator.
  await page.goto(server.setupUrl);
  await page.getByTestId('setup-form').waitFor();
  await page.getByTestId('setup-username').fill(ADMIN.username);
  await page.getByTestId('setup-display-name').fill(ADMIN.display);
  await page.getByTestId('setup-password').fill(ADMIN.password);
  await page.getByTestId('setup-confirm').fill(ADMIN.password);
  await page.getByTestId('setup-confirm').press('Enter');
  await page.getByTestId('shell').waitFor();

  // The administrator's navigation has the settings section with the four admin pages.
  await page.getByTestId('nav-section-settings').waitFor();
  const adminNav = await navIds(page);
  for (const id of ['nav-dashboard', 'nav-system', 'nav-admin-users', 'nav-admin-departments', 'nav-admin-roles', 'nav-admin-audit']) {
    assert(adminNav.includes(id), `admin navigation has ${id}: ${adminNav}`);
  }
  assert((await page.getByTestId('nav-section-settings').innerText()).includes('系统设置'), 'section heading in Chinese');

  // Departments: honest empty state, a required name, then 成都一部 at the top level.
  await page.getByTestId('nav-admin-departments').click();
  await page.getByTestId('departments-empty').waitFor();
  await page.getByTestId('dept-create').click();
  await page.getByTestId('dept-dialog').waitFor();
  await page.getByTestId('dept-dialog-submit').click();
  await page.getByTestId('dept-name-error').waitFor();
  await page.getByTestId('dept-name').fill(DEPARTMENT);
  await page.getByTestId('dept-name').press('Enter');
  await page.getByTestId('dept-dialog').waitFor({ state: 'detached' });
  const deptRow = page.locator(`[data-testid^="dept-row-"][data-name="${DEPARTMENT}"]`);
  await deptRow.waitFor();
  assert((await deptRow.getByTestId('dept-members').innerText()).includes('0'), 'no members yet');

  // Users: the create dialog refuses a taken username next to the field (409 username_taken).
  await page.getByTestId('nav-admin-users').click();
  await page.getByTestId('users-table').waitFor();
  await page.getByTestId('user-create').click();
  await page.getByTestId('user-dialog').waitFor();
  await page.getByTestId('user-form-username').fill(ADMIN.username);
  await page.getByTestId('user-form-display-name').fill(SALES.display);
  await page.getByTestId('user-form-password').fill(SALES.password);
  await page.getByTestId('user-form-roles-sales').check();
  await page.getByTestId('user-form-department').selectOption({ label: DEPARTMENT });
  await page.getByTestId('user-dialog-submit').click();
  const taken = await page.getByTestId('user-form-username-error').innerText();
  assert(taken.includes('已被使用'), 'taken username explained in Chinese: ' + taken);
  await shot(page, 'user-dialog');

  await page.getByTestId('user-form-username').fill(SALES.username);
  await page.getByTestId('user-dialog-submit').click();
  await page.getByTestId('user-dialog').waitFor({ state: 'detached' });
  const userRow = page.getByTestId(`user-row-${SALES.username}`);
  await userRow.waitFor();
  const rowText = await userRow.innerText();
  for (const expected of [SALES.display, DEPARTMENT, '业务员', '正常']) {
    assert(rowText.includes(expected), `user row shows ${expected}: ${rowText}`);
  }
  await shot(page, 'admin-users');

  // The department now has a member, so deleting it is refused with the reason.
  await page.getByTestId('nav-admin-departments').click();
  await deptRow.waitFor();
  assert((await deptRow.getByTestId('dept-members').innerText()).includes('1'), 'one member counted');
  await deptRow.getByTestId('dept-delete').click();
  await page.getByTestId('confirm-dialog').waitFor();
  await page.getByTestId('dept-delete-warning').waitFor();
  await page.getByTestId('confirm-ok').click();
  const refused = await page.getByTestId('confirm-error').innerText();
  assert(refused.includes('不能删除'), 'department_not_empty shown: ' + refused);
  await page.getByTestId('confirm-cancel').click();
  await page.getByTestId('confirm-dialog').waitFor({ state: 'detached' });
  await shot(page, 'admin-departments');

  // The sales user's first sign-in: the password the administrator chose (首次登录须修改密码 was
  // ticked by default) opens only the page asking for their own; the server answers nothing else.
  await logOut(page);
  await page.getByTestId('login-username').fill(SALES.username);
  await page.getByTestId('login-password').fill(SALES.password);
  await page.getByTestId('login-password').press('Enter');
  await page.getByTestId('page-first-password').waitFor();
  assert(await page.getByTestId('shell').count() === 0, 'no navigation before the own password');
  const refusedBefore = await page.evaluate(async () => (await fetch('/api/v1/customers', { credentials: 'same-origin' })).status);
  assert(refusedBefore === 403, `the server refuses the work meanwhile: ${refusedBefore}`);
  await shot(page, 'first-password');
  await page.getByTestId('pw-current').fill(SALES.password);
  await page.getByTestId('pw-new').fill(SALES.ownPassword);
  await page.getByTestId('pw-confirm').fill(SALES.ownPassword);
  await page.getByTestId('pw-submit').click();
  await page.getByTestId('login-notice').waitFor();

  // The sales user sees only their own area.
  await logIn(page, { username: SALES.username, password: SALES.ownPassword });
  assert((await page.getByTestId('user-display-name').innerText()).includes(SALES.display), 'sales display name shown');
  const salesNav = await navIds(page);
  // Sales staff work with customers (customer.read), claim from the pool (pool.claim), see
  // their own funnel and use the loan calculator (everyone), but see no settings section.
  assert(salesNav.join(',') === 'nav-dashboard,nav-customers,nav-deals,nav-documents,nav-pools,nav-funnel,nav-reports,nav-commissions,nav-targets,nav-calculator', 'sales navigation is dashboard, customers, deals, documents (their deals\' 权证), pool, funnel, reports over their own scope, their commission statement and targets, and calculator (no 系统状态, no finance): ' + salesNav);
  const salesNavText = await page.getByTestId('nav').innerText();
  for (const hidden of ['用户管理', '部门', '角色', '审计日志', '系统设置']) {
    assert(!salesNavText.includes(hidden), `sales navigation has no ${hidden}: ${salesNavText}`);
  }
  await page.goto(server.base + '/admin/users');
  await page.getByTestId('page-forbidden').waitFor();
  assert((await navIds(page)).join(',') === 'nav-dashboard,nav-customers,nav-deals,nav-documents,nav-pools,nav-funnel,nav-reports,nav-commissions,nav-targets,nav-calculator', 'forbidden page keeps the sales navigation');
  await shot(page, 'sales-forbidden');

  // My account (from the user menu): own profile; changing the password ends every session,
  // the login page says so, and the new password works.
  await page.getByTestId('user-menu').click();
  await page.getByTestId('account-link').click();
  await page.getByTestId('page-account').waitFor();
  await page.getByTestId('account-department').filter({ hasText: DEPARTMENT }).waitFor();
  assert((await page.getByTestId('account-roles').innerText()).includes('业务员'), 'own roles on the account page');
  await page.getByTestId('tokens-empty').waitFor();
  await shot(page, 'sales-account');
  await page.getByTestId('pw-current').fill(SALES.ownPassword);
  await page.getByTestId('pw-new').fill(SALES.newPassword);
  await page.getByTestId('pw-confirm').fill(SALES.newPassword);
  await page.getByTestId('pw-submit').click();
  await page.getByTestId('login-notice').waitFor();
  assert(new URL(page.url()).pathname === '/login', 'sent to the login page: ' + page.url());
  await logIn(page, { username: SALES.username, password: SALES.newPassword });
  await logOut(page);

  // Back as the administrator: the audit log (newest first) has the user.created entry.
  await page.goto(server.base + '/admin/audit');
  await logIn(page, ADMIN);
  await page.getByTestId('audit-table').waitFor();
  const created = page.locator('[data-testid="audit-row"][data-action="user.created"]');
  await created.first().waitFor();
  const createdText = await created.first().innerText();
  assert(createdText.includes('创建用户'), 'action label in Chinese: ' + createdText);
  assert(createdText.includes(SALES.username), 'target names the new user: ' + createdText);
  const firstAction = await page.getByTestId('audit-row').first().getAttribute('data-action');
  assert(firstAction === 'auth.login', 'newest entry (this login) first: ' + firstAction);

  // Filter by action: only user.created rows remain.
  await page.getByTestId('audit-filter-action').selectOption('user.created');
  await page.waitForFunction(() => {
    const rows = [...document.querySelectorAll('[data-testid="audit-row"]')];
    return rows.length > 0 && rows.every((r) => r.dataset.action === 'user.created');
  });
  const actions = await page.getByTestId('audit-row').evaluateAll((rows) => rows.map((r) => r.dataset.action));
  assert(actions.length === 1 && actions[0] === 'user.created', 'filtered to user.created: ' + actions);
  await page.getByTestId('audit-reset').click();
  await page.locator('[data-testid="audit-row"][data-action="auth.logout"]').first().waitFor();
  await shot(page, 'admin-audit');
}
