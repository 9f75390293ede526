// 公海: the firm-wide pool 公司公海 exists out of the box; the administrator finds it on the
// settings page, edits its settings (no signing limit) and previews a recall sweep ten days ahead
// (小周's grade-D customer, untouched for 7 days, would be recalled) → a real sweep runs only
// "now" (a future as_of is refused), so the administrator releases the customer into 公海
// through the API → 小吴 opens 公海 in a second browser, sees the
// customer with its phone masked, claims it after confirming, and finds it in 客户. On the same
// settings page the administrator pauses 小周's automatic assignments and weights 小吴 3.
import { join } from 'node:path';
import { apiCall, artifacts, assert, setupAdmin } from '../harness.mjs';

const shot = (page, name) => page.screenshot({ path: join(artifacts, `06-${name}.png`) });
const PASSWORD = 'sales pass 2026!';

/** A datetime-local value `days` from now, in the browser machine's time zone. */
function localIn(days) {
  const d = new Date(Date.now() + days * 86400000);
  const pad = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

export default async function ({ page, server }) {
  await setupAdmin(page, server);

  const zhou = await apiCall(page, 'POST', '/api/v1/users', { username: 'zhou', display_name: '小周', roles: ['sales'], password: PASSWORD });
  await apiCall(page, 'POST', '/api/v1/users', { username: 'wu', display_name: '小吴', roles: ['sales'], password: PASSWORD });
  const c = await apiCall(page, 'POST', '/api/v1/customers', { name: '冯七', phone: '13900139007', grade: 'D', city: '成都', owner_id: zhou.id });

  // The default pool, there on a new install, edited on the settings page.
  await page.getByTestId('nav-admin-pools').click();
  await page.getByTestId('page-admin-pools').waitFor();
  await page.getByTestId('admin-pool-row').waitFor();
  assert(await page.getByTestId('admin-pool-row').count() === 1, 'one pool out of the box');
  assert((await page.getByTestId('admin-pool-row').innerText()).includes('公司公海'), 'the default pool is listed');
  await page.getByTestId('admin-pool-row').getByTestId('pool-edit').click();
  await page.getByTestId('pool-dialog').waitFor();
  await page.getByTestId('pool-nosign').fill('');
  await page.getByTestId('pool-dialog-submit').click();
  await page.getByTestId('pool-dialog').waitFor({ state: 'detached' });

  // Preview ten days ahead: one recall, with the rule's reason.
  await page.getByTestId('sweep-at').fill(localIn(10));
  await page.getByTestId('sweep-run').click();
  await page.getByTestId('sweep-table').waitFor();
  assert(await page.getByTestId('sweep-row').count() === 1, 'one customer in the preview');
  const previewRow = await page.getByTestId('sweep-row').innerText();
  assert(previewRow.includes('冯七') && previewRow.includes('未跟进'), 'preview names customer and reason: ' + previewRow);
  await shot(page, 'preview');

  // Automatic assignment: pause 小周, give 小吴 weight 3; the API reads both back.
  await page.getByTestId('assignment-table').waitFor();
  const rows = page.getByTestId('assignment-row');
  assert(await rows.count() === 2, 'two salespeople take leads');
  const zhouRow = rows.filter({ hasText: '小周' });
  const wuRow = rows.filter({ hasText: '小吴' });
  await zhouRow.getByTestId('assignment-paused').check();
  await zhouRow.getByText('已暂停').waitFor();
  await wuRow.getByTestId('assignment-weight').fill('3');
  await wuRow.getByTestId('assignment-weight-save').click();
  let settings = [];
  for (let i = 0; i < 20; i++) {
    settings = await apiCall(page, 'GET', '/api/v1/assignment/users');
    if (settings.find((u) => u.display_name === '小吴')?.weight === 3) break;
    await page.waitForTimeout(100);
  }
  assert(settings.find((u) => u.display_name === '小周').paused === true, 'zhou paused: ' + JSON.stringify(settings));
  assert(settings.find((u) => u.display_name === '小吴').weight === 3, 'wu weight 3: ' + JSON.stringify(settings));
  await shot(page, 'assignment');

  // A real sweep runs now (nothing is due yet); a future instant is for previews only.
  const asOf = new Date(Date.now() + 10 * 86400000).toISOString();
  const refused = await apiCall(page, 'POST', `/api/v1/pools/sweep?dry_run=false&as_of=${encodeURIComponent(asOf)}`, {}).catch((e) => e);
  assert(refused instanceof Error, 'a real sweep at a future instant is refused: ' + JSON.stringify(refused));
  const report = await apiCall(page, 'POST', '/api/v1/pools/sweep?dry_run=false', {});
  assert(report.recalled === 0, 'nothing due now: ' + JSON.stringify(report));
  const released = await apiCall(page, 'POST', `/api/v1/customers/${c.id}/release`, { reason: '十天未跟进' });
  assert(released.pool_id, 'released into the pool: ' + JSON.stringify(released));

  // 小吴 claims it from 公海.
  const other = await page.context().browser().newContext({ viewport: { width: 1366, height: 768 } });
  const wu = await other.newPage();
  try {
    await wu.goto(`${server.base}/login?next=/pools`);
    await wu.getByTestId('login-username').fill('wu');
    await wu.getByTestId('login-password').fill(PASSWORD);
    await wu.getByTestId('login-password').press('Enter');
    await wu.getByTestId('pool-table').waitFor();
    const row = wu.getByTestId('pool-row');
    assert(await row.count() === 1, 'one waiting customer');
    const text = await row.innerText();
    assert(text.includes('冯七') && text.includes('****'), 'name shown, phone masked: ' + text);
    // The stage filter names the stages (it showed "stage.[object Object]" nine times).
    const stages = await wu.getByTestId('pool-filter-stage').locator('option').allInnerTexts();
    assert(stages.length === 10 && stages.includes('新线索') && !stages.some((o) => o.includes('stage.')),
      'stage filter options: ' + JSON.stringify(stages));
    await wu.screenshot({ path: join(artifacts, '06-pool-list.png') });
    // On a phone the table becomes cards, 领取 within the screen, nothing wider than it.
    await wu.setViewportSize({ width: 390, height: 844 });
    await wu.getByTestId('pool-cards').waitFor();
    const claimBox = await row.getByTestId('pool-claim').boundingBox();
    assert(claimBox && claimBox.x + claimBox.width <= 390, `领取 on the screen: ${JSON.stringify(claimBox)}`);
    const poolWide = await wu.evaluate(() => document.documentElement.scrollWidth);
    assert(poolWide <= 390, `the pool page fits the phone: ${poolWide}`);
    await wu.screenshot({ path: join(artifacts, '06-pool-phone.png') });
    await row.getByTestId('pool-claim').click();
    await wu.getByTestId('claim-dialog').waitFor();
    await wu.getByTestId('confirm-ok').click();
    await wu.getByTestId('claim-dialog').waitFor({ state: 'detached' });
    await wu.getByTestId('pool-empty').waitFor();
    // The claimed customer has left the list; the page says so and links to them.
    assert((await wu.getByTestId('pool-claimed').innerText()).includes('冯七'), 'the claim names the customer');
    assert((await wu.getByTestId('pool-claimed-open').getAttribute('href')) === `/customers/${c.id}`, 'and links to them');
    // The pool's count in the picker follows the claim without a reload (issue 17.9).
    await wu.waitForFunction(() => {
      const option = document.querySelector('[data-testid="pool-picker"] option:checked');
      return option && option.textContent.trim().endsWith('(0)');
    }, null, { timeout: 5000 });

    // Now in 小吴's customers (on the desktop again: the detail's actions are in view there).
    await wu.setViewportSize({ width: 1366, height: 768 });
    await wu.goto(`${server.base}/customers/${c.id}`);
    await wu.getByTestId('page-customer-detail').waitFor();
    assert((await wu.getByTestId('customer-name').innerText()) === '冯七', 'claimed customer opens');
    await wu.getByTestId('customer-release').waitFor();
    await wu.getByTestId('customer-lock').waitFor();
    await wu.screenshot({ path: join(artifacts, '06-claimed.png') });
    // 锁定 says it is done and shows beside the stage; 解除锁定 asks first (probe finding 32).
    await wu.getByTestId('customer-lock').click();
    await wu.getByTestId('toast').filter({ hasText: '已锁定，不会被回收' }).waitFor();
    await wu.locator('.customer-title [data-testid="customer-locked"]').waitFor();
    await wu.getByTestId('customer-lock').click();
    await wu.getByTestId('unlock-dialog').waitFor();
    assert((await wu.getByTestId('unlock-dialog').innerText()).includes('回收'), 'the confirmation says what unlocking means');
    await wu.getByTestId('confirm-ok').click();
    await wu.getByTestId('unlock-dialog').waitFor({ state: 'detached' });
    await wu.getByTestId('toast').filter({ hasText: '已解除锁定' }).waitFor();
    await wu.getByTestId('customer-locked').waitFor({ state: 'detached' });
    // Released again: the page no longer offers what the server would refuse, and says why.
    await wu.getByTestId('customer-release').click();
    // A usual reason is one tap (and can still be edited).
    await wu.getByTestId('release-quick-reason').filter({ hasText: '客户暂无需求' }).click();
    assert(await wu.getByTestId('release-reason').inputValue() === '客户暂无需求', 'the quick reason fills the field');
    await wu.getByTestId('release-dialog-submit').click();
    await wu.getByTestId('release-dialog').waitFor({ state: 'detached' });
    await wu.getByTestId('customer-pooled-note').waitFor();
    assert(await wu.getByTestId('followup-form').count() === 0, 'no follow-up form on a pooled customer');
    await wu.getByTestId('customer-claim').waitFor();
  } finally {
    await other.close();
  }
}
