// Reports (报表): the administrator opens 报表 from the navigation; the follow-up activity
// report shows a chart and a table whose total matches the follow-ups logged; the funnel and
// pool reports switch in place; the activity report exports to XLSX (a download, audited as
// report.exported); on a phone (390×844) the page still shows its table.
import { join } from 'node:path';
import { apiCall, artifacts, assert, setupAdmin } from '../harness.mjs';

export default async function ({ page, server }) {
  await setupAdmin(page, server);
  for (const [i, name] of ['甲', '乙'].entries()) {
    const c = await apiCall(page, 'POST', '/api/v1/customers', { name, phone: `1391234567${i}` });
    await apiCall(page, 'POST', `/api/v1/customers/${c.id}/followups`, { kind: 'call', content: '电话沟通' });
  }

  await page.goto(`${server.base}/`);
  await page.locator('nav a[href="/reports"]').first().click();
  await page.getByTestId('page-reports').waitFor();
  await page.getByTestId('report-chart').waitFor();
  const totals = page.getByTestId('report-totals');
  await totals.waitFor();
  assert((await totals.innerText()).includes('2'), `two follow-ups in the total: ${await totals.innerText()}`);
  await page.screenshot({ path: join(artifacts, '34-reports-activity.png') });

  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.getByTestId('report-export').click(),
  ]);
  assert(download.suggestedFilename().endsWith('.xlsx'), `an xlsx: ${download.suggestedFilename()}`);
  const audit = await apiCall(page, 'GET', '/api/v1/audit?action=report.exported');
  assert(audit.items.length === 1 && audit.items[0].detail.report === 'activity', 'the export is audited');

  await page.getByTestId('report-tab-funnel').click();
  await page.getByTestId('report-chart').waitFor();
  await page.getByTestId('report-table').waitFor();
  assert((await page.getByTestId('report-table').innerText()).includes('线索'), 'the funnel names its stages');

  // The funnel of a period before any customer: its stages are rows of zeros, so only the chart
  // has nothing to draw; the page does not say "no data" above a table of data.
  await page.getByTestId('report-from').fill('2025-01-01');
  await page.getByTestId('report-to').fill('2025-01-31');
  await page.getByTestId('report-chart-flat').waitFor();
  await page.getByTestId('report-table').waitFor();
  assert(await page.getByTestId('report-empty').count() === 0, 'no "no data" above the table');
  // An end before the start is not asked for: the reason beside the dates, the table stays.
  await page.getByTestId('report-to').fill('2024-12-01');
  const inverted = page.getByTestId('report-period-error');
  await inverted.waitFor();
  assert((await inverted.innerText()).includes('不能早于'), `the reason: ${await inverted.innerText()}`);
  assert(await page.getByTestId('report-table').count() === 1, 'the last good period stays on screen');
  assert(await page.getByTestId('load-error').count() === 0, 'no failed load to retry');

  await page.getByTestId('report-tab-pools').click();
  await page.getByTestId('report-empty').waitFor();

  await page.setViewportSize({ width: 390, height: 844 });
  await page.getByTestId('report-tab-activity').click();
  await page.getByTestId('report-table').waitFor();
  await page.screenshot({ path: join(artifacts, '34-reports-phone.png') });
}
