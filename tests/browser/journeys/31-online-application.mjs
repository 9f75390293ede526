// Online applications (在线申请, issue 22.4) and the lead check (撞库, 22.6): the administrator
// creates a form on 在线申请表单 (minimum fill time 1 s); a visitor on a 390×844 phone opens the
// public link, which fits the screen with the consent boxes unticked, fills it in and sees the
// success page; the salesperson the assignment rule chose sees the lead in their bell and opens
// it (channel and consent on the record). Then 撞库: the administrator pastes a vendor's list
// and gets one fresh number, one existing, one not recognised, and the fresh one as XLSX.
import { join } from 'node:path';
import { apiCall, artifacts, assert, setupAdmin } from '../harness.mjs';

const PASSWORD = 'sales pass 2026!';

async function login(page, server, username, password) {
  await page.goto(`${server.base}/login`);
  await page.getByTestId('login-username').fill(username);
  await page.getByTestId('login-password').fill(password);
  await page.getByTestId('login-password').press('Enter');
  await page.getByTestId('shell').waitFor();
}

export default async function ({ page, server }) {
  await setupAdmin(page, server);
  await apiCall(page, 'POST', '/api/v1/users', { username: 'wu', display_name: '小吴', roles: ['sales'], password: PASSWORD });

  // The administrator defines the form.
  await page.goto(`${server.base}/admin/apply`);
  await page.getByTestId('apply-empty').waitFor();
  await page.getByTestId('apply-create').click();
  await page.getByTestId('apply-dialog').waitFor();
  await page.getByTestId('apply-slug').fill('web');
  await page.getByTestId('apply-min-fill').fill('1');
  await page.getByTestId('apply-dialog-submit').click();
  await page.getByTestId('apply-form-web').waitFor();
  const link = await page.getByTestId('apply-link').innerText();
  assert(link.endsWith('/apply/web'), `the public link: ${link}`);
  // The admin page on a phone: nothing wider than the screen.
  await page.setViewportSize({ width: 390, height: 844 });
  await page.getByTestId('apply-form-web').waitFor();
  const wide = await page.evaluate(() => document.documentElement.scrollWidth);
  assert(wide <= 390, `the admin page fits 390 px: ${wide}`);
  await page.screenshot({ path: join(artifacts, '31-admin-apply-390.png') });
  await page.setViewportSize({ width: 1366, height: 768 });

  // A visitor on a phone.
  const phone = await page.context().browser().newContext({ viewport: { width: 390, height: 844 } });
  try {
    const v = await phone.newPage();
    const errors = [];
    v.on('pageerror', (e) => errors.push(String(e)));
    await v.goto(`${server.base}/apply/web`);
    await v.locator('h1').waitFor();
    const overflow = await v.evaluate(() => document.documentElement.scrollWidth);
    assert(overflow <= 390, `fits 390 px: ${overflow}`);
    assert(!(await v.locator('input[name="consent_general"]').isChecked()), 'consent unticked by default');
    // The default fields ask nothing sensitive: no separate consent box.
    assert((await v.locator('input[name="consent_sensitive"]').count()) === 0, 'no sensitive consent asked');
    await v.locator('input[name="name"]').fill('孙九');
    await v.locator('input[name="phone"]').fill('139 0000 1234');
    await v.locator('input[name="city"]').fill('成都');
    await v.locator('input[name="amount"]').fill('20');
    await v.locator('input[name="consent_general"]').check();
    await v.screenshot({ path: join(artifacts, '31-apply-form.png'), fullPage: true });
    await v.waitForTimeout(1200);
    await v.locator('button[type="submit"]').click();
    await v.getByText('提交成功').waitFor();
    await v.screenshot({ path: join(artifacts, '31-apply-done.png') });
    assert(errors.length === 0, `no page errors: ${errors}`);
  } finally {
    await phone.close();
  }

  // The officer the rule chose sees the lead.
  await login(page, server, 'wu', PASSWORD);
  await page.getByTestId('notice-bell').click();
  await page.getByTestId('notice-item').filter({ hasText: '孙九' }).click();
  await page.getByTestId('page-customer-detail').waitFor();
  await page.waitForFunction(() => document.querySelector('[data-testid="customer-name"]')?.innerText.includes('孙九'));
  await page.locator('[data-testid="timeline-event"][data-kind="assigned"]').waitFor();
  await page.screenshot({ path: join(artifacts, '31-officer-lead.png') });

  // 撞库 as the administrator.
  await login(page, server, 'boss', 'a long enough pass');
  await page.goto(`${server.base}/leads/check`);
  // A file is read by the server into the box (here a CSV with a header).
  await page.getByTestId('lead-file').setInputFiles({ name: 'vendor.csv', mimeType: 'text/csv',
    buffer: Buffer.from('手机号\n13900001234\n13800138000\n12345\n') });
  await page.waitForFunction(() => document.querySelector('[data-testid="lead-input"]').value.includes('12345'));
  await page.getByTestId('lead-run').click();
  const result = page.getByTestId('lead-result');
  await result.waitFor();
  const text = await result.innerText();
  assert(text.includes('新号码 1 个') && text.includes('已是客户 1 个') && text.includes('无法识别 1 个'), `the answer: ${text}`);
  await page.screenshot({ path: join(artifacts, '31-lead-check.png') });
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('lead-download').click()]);
  assert(download.suggestedFilename() === 'fresh-leads.xlsx', `the file: ${download.suggestedFilename()}`);
}
