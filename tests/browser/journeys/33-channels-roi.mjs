// Channels on a phone (390×844): the 渠道 page under 财务 starts empty; finance creates the
// channel 抖音, sets this month's cost (700 元) in the cost grid, and the ROI table shows the
// channel's lead (a customer whose channel is 抖音), the cost, the cost per lead and ROI −100%.
import { join } from 'node:path';
import { apiCall, artifacts, assert, setupAdmin } from '../harness.mjs';

export default async function ({ page, server }) {
  await setupAdmin(page, server);
  const month = new Date(Date.now() + 8 * 3600e3).toISOString().slice(0, 7);
  await apiCall(page, 'POST', '/api/v1/customers', { name: '钱七', phone: '13812345678', channel: '抖音' });

  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(`${server.base}/finance/channels`);
  await page.getByTestId('channels-empty').waitFor();
  // The unregistered text is reported, not dropped.
  await page.locator('[data-testid="roi-row"][data-label="未登记渠道: 抖音"]').waitFor();

  await page.getByTestId('channel-new').click();
  await page.getByTestId('channel-dialog').waitFor();
  await page.getByTestId('channel-name').fill('抖音');
  await page.getByTestId('channel-dialog-submit').click();
  await page.getByTestId('channel-dialog').waitFor({ state: 'detached' });
  await page.locator('[data-testid="channel-row"][data-name="抖音"]').waitFor();

  await page.locator('[data-testid="channel-row"][data-name="抖音"]').getByTestId(`cost-${month}`).click();
  await page.getByTestId('cost-dialog').waitFor();
  await page.getByTestId('channel-cost').fill('700');
  await page.getByTestId('cost-dialog-submit').click();
  await page.getByTestId('cost-dialog').waitFor({ state: 'detached' });

  const row = page.locator('[data-testid="roi-row"][data-label="抖音"]');
  await page.waitForFunction(() => document.querySelector('[data-testid="roi-row"][data-label="抖音"] [data-testid="roi-cost"]')?.textContent.includes('700.00'));
  assert((await row.getByTestId('roi-leads').innerText()).trim() === '1', 'one lead from 抖音');
  assert((await row.getByTestId('roi-perLead').innerText()).includes('700.00'), 'cost per lead');
  assert((await row.getByTestId('roi-roi').innerText()).includes('-100.00%'), 'ROI −100% without fees');
  await page.getByTestId('channels-chart').waitFor();
  const wide = await page.evaluate(() => document.documentElement.scrollWidth);
  assert(wide <= 390, `nothing wider than the phone: ${wide}`);
  await page.screenshot({ path: join(artifacts, '33-channels-phone.png'), fullPage: true });
}
