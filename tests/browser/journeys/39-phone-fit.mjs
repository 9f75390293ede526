// Every page in the navigation fits a phone: at 390×844, in Chinese and in English, no page
// scrolls sideways (tables become cards) and none logs an error; the navigation icons are
// distinct (beside their names in 更多, alone in the tablet's rail); on a phone the top-bar
// search spans the bar while it is being typed in. A 人事 holding only user.manage with a
// department scope sees on the departments and users pages only the actions the server allows
// it (no 新建/移动/删除 outside its subtree, no edit of accounts beyond it), and both still fit.
import { join } from 'node:path';
import { apiCall, artifacts, assert, setupAdmin } from '../harness.mjs';

export default async function ({ page, server }) {
  await setupAdmin(page, server);
  for (const [i, name] of ['张三', '李四'].entries()) {
    const c = await apiCall(page, 'POST', '/api/v1/customers', { name, phone: `1391234567${i}`, channel: '抖音' });
    await apiCall(page, 'POST', `/api/v1/customers/${c.id}/followups`, { kind: 'call', content: '电话沟通' });
  }
  // A department tree two levels deep, with a long name: its row actions must stay in reach.
  const top = await apiCall(page, 'POST', '/api/v1/departments', { name: '华东大区销售管理中心第一分部' });
  await apiCall(page, 'POST', '/api/v1/departments', { name: '一组', parent_id: top.id });
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(`${server.base}/admin/departments`);
  await page.getByTestId('dept-tree').waitFor();
  const offscreen = await page.evaluate(() => [...document.querySelectorAll('[data-testid="dept-tree"] button')]
    .filter((b) => b.getBoundingClientRect().right > window.innerWidth)
    .map((b) => `${b.dataset.testid} right=${Math.round(b.getBoundingClientRect().right)}`));
  assert(offscreen.length === 0, `department actions out of reach at 390 px: ${offscreen.join(', ')}`);
  await page.goto(`${server.base}/`);
  // On a phone the navigation waits behind 更多 (the bottom tab bar); its links are there.
  await page.getByTestId('tabbar').waitFor();
  const links = await page.locator('nav a.sidenav-item').evaluateAll((as) =>
    as.map((a) => ({ href: a.getAttribute('href'), icon: a.querySelector('svg').innerHTML })));
  assert(links.length >= 20, `the administrator's navigation lists every page: ${links.length}`);
  const icons = new Map();
  for (const l of links) {
    assert(!icons.has(l.icon) || l.href.startsWith('/admin/pools'),
      `${l.href} has the same icon as ${icons.get(l.icon)}`);
    icons.set(l.icon, l.href);
  }

  const wide = [];
  for (const locale of ['zh-CN', 'en']) {
    await page.evaluate((l) => localStorage.setItem('zhudai.locale', l), locale);
    for (const { href } of links) {
      await page.goto(`${server.base}${href}`);
      await page.getByTestId('content').waitFor();
      await page.waitForLoadState('networkidle');
      const over = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      if (over > 0) {
        wide.push(`${locale} ${href} +${over}px`);
        await page.screenshot({ path: join(artifacts, `39-wide-${locale}-${href.replace(/\//g, '_')}.png`) });
      }
    }
  }
  assert(wide.length === 0, `pages wider than a phone: ${wide.join(', ')}`);

  await page.goto(`${server.base}/`);
  const search = page.locator('.global-search input');
  await search.click();
  const box = await search.boundingBox();
  assert(box.width > 280, `the focused search box spans the bar: ${box.width}px`);

  const other = await apiCall(page, 'POST', '/api/v1/departments', { name: '二部' });
  await apiCall(page, 'POST', '/api/v1/roles', { key: 'hr', name: '人事', capabilities: ['user.manage'],
    scope: 'department_tree', field_privileges: [] });
  await apiCall(page, 'POST', '/api/v1/users', { username: 'hr1', display_name: '人事一', password: 'hr password 2026',
    roles: ['hr'], department_id: top.id });
  await page.keyboard.press('Escape');
  await page.getByTestId('user-menu').click();
  await page.getByTestId('logout').click();
  await page.getByTestId('login-form').waitFor();
  await page.getByTestId('login-username').fill('hr1');
  await page.getByTestId('login-password').fill('hr password 2026');
  await page.getByTestId('login-password').press('Enter');
  await page.getByTestId('shell').waitFor();
  const fits = async (what) => {
    const over = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert(over <= 0, `${what} as 人事 is wider than a phone: +${over}px`);
  };

  await page.goto(`${server.base}/admin/departments`);
  await page.getByTestId('dept-tree').waitFor();
  await page.waitForLoadState('networkidle');
  assert(await page.getByTestId('dept-create').count() === 0, 'no top-level 新建 for a department-scoped 人事');
  const actions = (id) => page.getByTestId(`dept-row-${id}`).locator('button').evaluateAll(
    (bs) => bs.map((b) => b.dataset.testid));
  const outside = await actions(other.id);
  assert(outside.length === 0, `no actions on a department outside the subtree: ${outside}`);
  const own = await actions(top.id);
  assert(own.includes('dept-add-child') && own.includes('dept-rename') && !own.includes('dept-move'),
    `its own department: 新建 under it and rename, nowhere to move it: ${own}`);
  await fits('/admin/departments');

  await page.goto(`${server.base}/admin/users`);
  await page.getByTestId('users-table').waitFor();
  assert(await page.getByTestId('user-row-boss').locator('button').count() === 0,
    'no actions on the administrator\'s account');
  assert(await page.getByTestId('user-row-hr1').getByTestId('user-edit').count() === 1, 'its own account is editable');
  await fits('/admin/users');
}
