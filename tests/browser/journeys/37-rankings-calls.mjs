// Rankings and call statistics (排行榜 / 通话统计): the PBX reports calls for a salesperson of
// 一部; the administrator's 工作台 shows this month's rankings, by calls too; the department's
// manager signs in, opens 报表 → 排行榜 (ranked by calls) and 通话统计 (figures and a totals
// row), exports it to XLSX (a download, audited as report.exported); the account page shows
// the salesperson their own calls; on a phone (390×844) the rankings table still shows.
import { join } from 'node:path';
import { apiCall, artifacts, assert, setupAdmin, logInAs } from '../harness.mjs';

const PASSWORD = 'sales pass 2026!';

const logIn = (page, server, username) => logInAs(page, server, username, PASSWORD);

export default async function ({ page, server }) {
  await setupAdmin(page, server);
  const dept = await apiCall(page, 'POST', '/api/v1/departments', { name: '一部' });
  const xiao = await apiCall(page, 'POST', '/api/v1/users', { username: 'xiao', display_name: '小萧', roles: ['sales'], password: PASSWORD, department_id: dept.id });
  await apiCall(page, 'POST', '/api/v1/users', { username: 'mgr', display_name: '林经理', roles: ['manager'], password: PASSWORD, department_id: dept.id });
  await apiCall(page, 'POST', '/api/v1/customers', { name: '周九', phone: '13812345670', owner_id: xiao.id });
  const token = (await apiCall(page, 'POST', '/api/v1/tokens', { name: '呼叫中心' })).token;
  for (const [i, talk, result] of [[1, 120, 'answered'], [2, 0, 'busy'], [3, 60, 'answered']]) {
    const r = await fetch(`${server.base}/api/v1/calls`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        external_id: `journey-37-${i}`, direction: 'out', from: '8001', to: '13812345670',
        started_at: new Date(Date.now() - i * 60000).toISOString(), ring_seconds: 4, talk_seconds: talk,
        result, agent: 'xiao',
      }),
    });
    assert(r.status === 201, `call ${i} ingested: ${r.status}`);
  }

  // The administrator's 工作台: this month's rankings, by calls 小萧 first with 3.
  await page.goto(`${server.base}/`);
  await page.getByTestId('rankings-card').waitFor();
  await page.getByTestId('rankings-by-calls').click();
  // The rows on screen are the calls ranking's, not the fees ranking's still standing.
  await page.locator('[data-testid="rankings-card"][data-shown="calls"]').waitFor();
  const first = page.getByTestId('rankings-row').first();
  await first.waitFor();
  const firstText = await first.innerText();
  assert(firstText.includes('小萧') && firstText.includes('3'), `小萧 leads by calls: ${firstText}`);
  await page.screenshot({ path: join(artifacts, '37-dashboard-rankings.png') });

  // The manager: 报表 → 排行榜 by calls, then 通话统计, exported.
  await logIn(page, server, 'mgr');
  await page.locator('nav a[href="/reports"]').first().click();
  await page.getByTestId('page-reports').waitFor();
  await page.getByTestId('report-tab-rankings').click();
  await page.getByTestId('report-by-calls').click();
  const table = page.getByTestId('report-table');
  await table.waitFor();
  await page.waitForFunction(() => {
    const t = document.querySelector('[data-testid="report-table"]');
    return t && t.innerText.includes('小萧');
  });
  const rankText = await table.innerText();
  assert(rankText.includes('名次') && rankText.includes('小萧'), `the ranking names 小萧: ${rankText}`);
  await page.screenshot({ path: join(artifacts, '37-reports-rankings.png') });

  await page.getByTestId('report-tab-call_stats').click();
  await page.waitForFunction(() => {
    const t = document.querySelector('[data-testid="report-table"]');
    return t && t.innerText.includes('接通率');
  });
  const totals = await page.getByTestId('report-totals').innerText();
  assert(totals.includes('3') && totals.includes('66.7%'), `3 calls, 2 answered: ${totals}`);
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.getByTestId('report-export').click(),
  ]);
  assert(download.suggestedFilename().endsWith('.xlsx'), `an xlsx: ${download.suggestedFilename()}`);

  // The manager's own rankings on the phone.
  await page.setViewportSize({ width: 390, height: 844 });
  await page.getByTestId('report-tab-rankings').click();
  await page.getByTestId('report-table').waitFor();
  await page.screenshot({ path: join(artifacts, '37-reports-phone.png') });

  // 小萧's account page: their own calls this month.
  await logIn(page, server, 'xiao');
  await page.goto(`${server.base}/account`);
  await page.getByTestId('my-calls').waitFor();
  assert((await page.getByTestId('my-calls-count').innerText()).trim() === '3', 'three calls of mine');

  // The export was audited (as the administrator).
  await page.context().clearCookies();
  await page.goto(`${server.base}/login`);
  await page.getByTestId('login-username').fill('boss');
  await page.getByTestId('login-password').fill('a long enough pass');
  await page.getByTestId('login-password').press('Enter');
  await page.getByTestId('shell').waitFor();
  const audit = await apiCall(page, 'GET', '/api/v1/audit?action=report.exported');
  assert(audit.items.some((e) => e.detail.report === 'call_stats'), 'the export is audited');
}
