// A new lead reaches the salesperson without a reload (issue 17.5): 小吴 has the app open in
// their own browser; the manager (here the administrator, in another browser context) gives
// them a customer by hand and another goes to them by the assignment rule; within one poll
// (~10 s) 小吴 sees a toast for each naming the customer and who gave it, the bell counts two,
// and its panel links to the customers. In English the rule's reason on the timeline is English
// too (issue 17.9: "(轮流分配)" stayed Chinese). The manager's audit log then names the
// customer and both owners instead of ids. Four at once make one summary toast.
import { apiCall, assert, setupAdmin } from '../harness.mjs';

const PASSWORD = 'sales pass 2026!';

export default async function ({ page, server }) {
  await setupAdmin(page, server);
  const wu = await apiCall(page, 'POST', '/api/v1/users', { username: 'wu', display_name: '小吴', roles: ['sales'], password: PASSWORD });

  const other = await page.context().browser().newContext({ viewport: { width: 390, height: 844 } });
  try {
    const phone = await other.newPage();
    const errors = [];
    phone.on('pageerror', (e) => errors.push(String(e)));
    await phone.goto(`${server.base}/login`);
    await phone.getByTestId('login-username').fill('wu');
    await phone.getByTestId('login-password').fill(PASSWORD);
    await phone.getByTestId('login-password').press('Enter');
    await phone.getByTestId('shell').waitFor();
    await phone.getByTestId('notice-bell').waitFor();
    assert((await phone.getByTestId('notice-count').count()) === 0, 'nothing new yet');
    const before = await phone.evaluate(() => performance.now());

    // The manager gives 小吴 a customer (created, then transferred).
    const c = await apiCall(page, 'POST', '/api/v1/customers', { name: '郑十', phone: '13600001234' });
    await apiCall(page, 'POST', `/api/v1/customers/${c.id}/transfer`, { to_user: wu.id });
    const byRule = await apiCall(page, 'POST', '/api/v1/customers', { name: '冯十一', phone: '13600005678', assign: 'auto' });
    assert(byRule.owner_id === wu.id, 'the rule gave it to the one salesperson');

    // No reload: the toast and the bell's count arrive by themselves.
    const toast = phone.getByTestId('toast').filter({ hasText: '郑十' });
    await toast.waitFor({ timeout: 15000 });
    const text = await toast.innerText();
    assert(text.includes('王老板'), `who gave it: ${text}`);
    await phone.getByTestId('toast').filter({ hasText: '冯十一' }).waitFor({ timeout: 15000 });
    assert((await phone.getByTestId('notice-count').innerText()).trim() === '2', 'the bell counts two');
    const waited = (await phone.evaluate(() => performance.now())) - before;
    assert(waited < 15000, `within seconds: ${waited} ms`);
    await phone.getByTestId('notice-bell').click();
    await phone.getByTestId('notice-panel').waitFor();
    const panel = await phone.getByTestId('notice-panel').boundingBox();
    const vw = phone.viewportSize().width;
    assert(panel.x >= 0 && panel.x + panel.width <= vw, `the panel is on the screen: x=${panel.x} w=${panel.width} of ${vw}`);
    assert((await phone.getByTestId('notice-count').count()) === 0, 'opened: nothing unread');
    await phone.getByTestId('notice-item').filter({ hasText: '郑十' }).click();
    await phone.getByTestId('page-customer-detail').waitFor();
    assert((await phone.getByTestId('customer-name').innerText()).includes('郑十'), 'the link opens the customer');
    // On a phone the follow-up form is far down the page: a button at the top takes you there.
    await phone.getByTestId('customer-write-followup').click();
    await phone.waitForFunction(() => document.activeElement?.id === 'followup-content');
    const box = await phone.getByTestId('followup-content').boundingBox();
    assert(box.y >= 0 && box.y + box.height <= phone.viewportSize().height, `the form is in view: y=${box.y}`);
    await phone.getByTestId('notice-bell').click();
    await phone.getByTestId('notice-item').filter({ hasText: '冯十一' }).click();
    await phone.waitForFunction(() => document.querySelector('[data-testid="customer-name"]')?.innerText.includes('冯十一'));
    const assigned = phone.locator('[data-testid="timeline-event"][data-kind="assigned"]');
    await assigned.waitFor();
    assert((await assigned.innerText()).includes('轮流分配'), 'the reason in Chinese');
    await phone.getByTestId('locale-switch').click();
    await phone.getByTestId('locale-en').click();
    await phone.waitForFunction(() => document.documentElement.lang === 'en');
    const english = await assigned.innerText();
    assert(english.includes('round robin') && !english.includes('轮流分配'), `the reason in English: ${english}`);

    // Many at once (an import, a bulk hand-out): one summary toast, the bell counts them all.
    for (const [i, name] of ['褚一', '褚二', '褚三', '褚四'].entries()) {
      await apiCall(page, 'POST', '/api/v1/customers', { name, phone: `1350000000${i}`, assign: 'auto' });
    }
    await phone.getByTestId('toast').filter({ hasText: '4 new customers are now yours' }).waitFor({ timeout: 15000 });
    assert((await phone.getByTestId('toast').filter({ hasText: '褚' }).count()) === 0, 'no toast per customer');
    assert((await phone.getByTestId('notice-count').innerText()).trim() === '4', 'the bell counts four');
    const w = await phone.evaluate(() => ({ page: document.documentElement.scrollWidth, viewport: window.innerWidth }));
    assert(w.page <= w.viewport, `no sideways scroll with the bell at 390 px: ${JSON.stringify(w)}`);
    assert(errors.length === 0, `no page errors: ${errors.join(' | ')}`);
  } finally {
    await other.close();
  }

  // The manager's audit log names the customer and the people instead of ids (issue 17.7).
  await page.goto(`${server.base}/admin/audit`);
  await page.getByTestId('audit-filter-action').selectOption('customer.transferred');
  const row = page.locator('[data-testid="audit-row"][data-action="customer.transferred"]').first();
  await row.waitFor();
  const target = await row.getByTestId('audit-target').innerText();
  assert(target.includes('郑十'), `the target by name: ${target}`);
  const facts = await row.getByTestId('audit-facts').innerText();
  assert(facts.includes('小吴') && facts.includes('王老板') && facts.includes('新负责人'), `details as labelled names: ${facts}`);
}
