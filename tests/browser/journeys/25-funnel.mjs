// The sales funnel on a 390×844 phone: customers added and moved through stages show up as
// reached counts in an ECharts funnel (vendored, rendered as SVG under the CSP) and a table
// with the conversion to the next stage, without sideways scrolling.
import { join } from 'node:path';
import { apiCall, artifacts, assert, setupAdmin } from '../harness.mjs';

export default async function ({ page, server }) {
  await setupAdmin(page, server);
  const ids = [];
  for (const [k, phone] of ['13800000011', '13800000012', '13800000013', '13800000014'].entries()) {
    ids.push((await apiCall(page, 'POST', '/api/v1/customers', { name: `漏斗${k}`, phone })).id);
  }
  await apiCall(page, 'PATCH', `/api/v1/customers/${ids[0]}`, { stage: 'contacted' });
  await apiCall(page, 'PATCH', `/api/v1/customers/${ids[1]}`, { stage: 'signed' });
  await apiCall(page, 'PATCH', `/api/v1/customers/${ids[2]}`, { stage: 'lost' });
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(`${server.base}/reports/funnel`);
  await page.getByTestId('funnel-table').waitFor();
  await page.getByTestId('funnel-chart').locator('svg').waitFor();
  const rows = await page.getByTestId('funnel-table').locator('tbody tr').allInnerTexts();
  const cell = (label) => rows.find((r) => r.startsWith(label));
  assert(cell('新线索').includes('4'), `4 leads: ${rows}`);
  assert(/联系|已联系/.test(rows[1]) && rows[1].includes('2'), `2 contacted (one passing through): ${rows}`);
  assert(rows.some((r) => r.startsWith('已流失') && r.includes('1')), `one lost: ${rows}`);
  assert(cell('新线索').includes('50.0%'), `2 of 4 leads reached the next stage: ${cell('新线索')}`);
  const chartText = await page.getByTestId('funnel-chart').innerText();
  assert(chartText.includes('新线索'), `the chart labels the stages: ${chartText}`);
  const wide = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert(wide <= 0, `no sideways scroll at 390 px (${wide} px too wide)`);
  await page.screenshot({ path: join(artifacts, '25-funnel-phone.png'), fullPage: true });

  // The deal funnel tab: no deals yet, an empty state.
  await page.getByTestId('funnel-kind-deals').click();
  await page.getByTestId('funnel-empty').waitFor();
}
