// Departure handover (离职继承): two sales staff, 小周 with three customers and 小吴 with one.
// 小吴 signs in (in a second browser) and sees one customer; the administrator presses 离职交接
// on 小周's row, picks 小吴 and confirms → 小周 shows as departed, and 小吴's list has four.
import { apiCall, artifacts, assert, setupAdmin } from '../harness.mjs';
import { join } from 'node:path';

const shot = (page, name) => page.screenshot({ path: join(artifacts, `08-${name}.png`) });
const PASSWORD = 'sales pass 2026!';

export default async function ({ page, server }) {
  await setupAdmin(page, server);
  const zhou = await apiCall(page, 'POST', '/api/v1/users', { username: 'zhou', display_name: '小周', roles: ['sales'], password: PASSWORD });
  const wu = await apiCall(page, 'POST', '/api/v1/users', { username: 'wu', display_name: '小吴', roles: ['sales'], password: PASSWORD });
  const owned = [['甲', zhou.id], ['乙', zhou.id], ['丙', zhou.id], ['丁', wu.id]];
  for (const [i, [name, owner]] of owned.entries()) {
    await apiCall(page, 'POST', '/api/v1/customers', { name, phone: `1390013900${i}`, owner_id: owner });
  }

  // 小吴's own list, in a second browser.
  const other = await page.context().browser().newContext({ viewport: { width: 1366, height: 768 } });
  const wuPage = await other.newPage();
  try {
    await wuPage.goto(`${server.base}/login?next=/customers`);
    await wuPage.getByTestId('login-username').fill('wu');
    await wuPage.getByTestId('login-password').fill(PASSWORD);
    await wuPage.getByTestId('login-password').press('Enter');
    await wuPage.getByTestId('customers-table').waitFor();
    assert((await wuPage.getByTestId('customers-total').innerText()).includes('1'), 'one customer before');

    // The administrator hands 小周's customers to 小吴.
    await page.getByTestId('nav-admin-users').click();
    const row = page.getByTestId('user-row-zhou');
    await row.waitFor();
    await row.getByTestId('user-depart').click();
    await page.getByTestId('depart-dialog').waitFor();
    // Nothing is chosen beforehand: the handover cannot be undone.
    assert(await page.getByTestId('depart-to').inputValue() === '', 'no successor chosen beforehand');
    await page.getByTestId('confirm-ok').click();
    await page.getByTestId('depart-dialog').getByText('请选择接收人').waitFor();
    // The public pool is the other way out.
    await page.getByTestId('depart-kind-pool').check();
    await page.getByTestId('depart-pool').waitFor();
    await page.getByTestId('depart-kind-user').check();
    await page.getByTestId('depart-to').selectOption(wu.id);
    await shot(page, 'confirm');
    await page.getByTestId('confirm-ok').click();
    await page.getByTestId('depart-dialog').waitFor({ state: 'detached' });
    await page.waitForFunction(() => document.querySelector('[data-testid="user-row-zhou"]')?.innerText.includes('已离职'));
    assert(!(await row.getByTestId('user-depart').count()), 'no handover button for a departed user');

    // 小吴's list grew to four, each owned by 小吴.
    await wuPage.reload();
    await wuPage.getByTestId('customers-table').waitFor();
    await wuPage.waitForFunction(() => document.querySelectorAll('[data-testid="customer-row"]').length === 4);
    assert((await wuPage.getByTestId('customers-total').innerText()).includes('4'), 'four customers after');
    const owners = await wuPage.getByTestId('customer-row-owner').allInnerTexts();
    assert(owners.every((o) => o === '小吴'), `all owned by 小吴: ${owners}`);
    await wuPage.screenshot({ path: join(artifacts, '08-successor-list.png') });
  } finally {
    await other.close();
  }
}
