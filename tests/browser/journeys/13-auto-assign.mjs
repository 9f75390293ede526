// 自动分配: the administrator creates a new customer with 负责人 = 自动分配; the assignment rule
// gives it to the one sales rep 小李, the detail page names her as owner and the timeline shows
// the rule's reason. Then two of the boss's own customers are selected in the list and handed
// out with the bulk action 自动分配 within 二部: both go to 二部's rep 小王, not to 小李.
import { join } from 'node:path';
import { apiCall, artifacts, assert, setupAdmin } from '../harness.mjs';

const shot = (page, name) => page.screenshot({ path: join(artifacts, `13-${name}.png`) });
const PASSWORD = 'sales pass 2026!';

export default async function ({ page, server }) {
  await setupAdmin(page, server);
  await apiCall(page, 'POST', '/api/v1/users', { username: 'li', display_name: '小李', roles: ['sales'], password: PASSWORD });

  await page.getByTestId('nav-customers').click();
  await page.getByTestId('customers-empty').waitFor();
  await page.getByTestId('customers-empty-create').click();
  await page.getByTestId('customer-dialog').waitFor();
  await page.getByTestId('customer-form-name').fill('赵自动');
  await page.getByTestId('customer-form-phone').fill('13700137013');
  await page.getByTestId('customer-form-assign').selectOption('auto');
  await shot(page, 'create-dialog');
  await page.getByTestId('customer-dialog-submit').click();

  await page.getByTestId('page-customer-detail').waitFor();
  await page.waitForFunction(() => document.querySelector('[data-testid="customer-owner"]')?.innerText.includes('小李'));
  const event = page.locator('[data-testid="timeline-event"][data-kind="assigned"]');
  await event.waitFor();
  const text = await event.innerText();
  assert(text.includes('小李') && text.includes('轮流分配'), 'timeline names owner and reason: ' + text);
  await shot(page, 'assigned');

  // Bulk automatic assignment within one department.
  const dept = await apiCall(page, 'POST', '/api/v1/departments', { name: '二部' });
  const wang = await apiCall(page, 'POST', '/api/v1/users', {
    username: 'wang', display_name: '小王', roles: ['sales'], password: PASSWORD, department_id: dept.id,
  });
  for (const [name, phone] of [['钱批量', '13700137021'], ['孙批量', '13700137022']]) {
    await apiCall(page, 'POST', '/api/v1/customers', { name, phone });
  }
  await page.getByTestId('nav-customers').click();
  const rows = page.getByTestId('customer-row');
  await rows.filter({ hasText: '孙批量' }).waitFor();
  for (const name of ['钱批量', '孙批量']) {
    await rows.filter({ hasText: name }).getByTestId('customer-row-check').check();
  }
  await page.getByTestId('bulk-action').selectOption('auto_assign');
  await page.locator('[data-testid="bulk-department"] option', { hasText: '二部' }).waitFor({ state: 'attached' });
  await page.getByTestId('bulk-department').selectOption(dept.id);
  await shot(page, 'bulk-assign');
  await page.getByTestId('bulk-apply').click();
  await page.getByTestId('bulk-confirm').getByTestId('confirm-ok').click();
  await page.getByTestId('bulk-confirm').waitFor({ state: 'detached' });
  const list = await apiCall(page, 'GET', '/api/v1/customers?q=%E6%89%B9%E9%87%8F');
  const owners = list.items.map((c) => c.owner_id);
  assert(owners.length === 2 && owners.every((o) => o === wang.id), 'both went to 小王: ' + JSON.stringify(owners));
}
