// The 工作台 trends card (issue 21.1) on a 390×844 phone: customers created and follow-ups
// logged show up in the ECharts chart of new leads and follow-ups by day (SVG, loaded on
// demand) and in the ranking by follow-ups, for the admin (everyone) and for a salesperson
// (only their own row); the 30/90-day switch; no sideways scrolling.
import { join } from 'node:path';
import { apiCall, artifacts, assert, setupAdmin } from '../harness.mjs';

const PASSWORD = 'team pass 2026!';

async function logInAs(page, server, username, password = PASSWORD) {
  await page.context().clearCookies();
  await page.goto(`${server.base}/login`);
  await page.getByTestId('login-username').fill(username);
  await page.getByTestId('login-password').fill(password);
  await page.getByTestId('login-password').press('Enter');
  await page.getByTestId('shell').waitFor();
}

async function noSidewaysScroll(page) {
  const wide = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert(wide <= 0, `no sideways scroll at 390 px (${wide} px too wide)`);
}

export default async function ({ page, server }) {
  await setupAdmin(page, server);
  await apiCall(page, 'POST', '/api/v1/users', { username: 'xiaowang', display_name: '小王', roles: ['sales'], password: PASSWORD });
  // The admin: two leads, three follow-ups.
  const ids = [];
  for (const [k, phone] of ['13800000021', '13800000022'].entries()) {
    ids.push((await apiCall(page, 'POST', '/api/v1/customers', { name: `趋势${k}`, phone })).id);
  }
  for (const id of [ids[0], ids[0], ids[1]]) {
    await apiCall(page, 'POST', `/api/v1/customers/${id}/followups`, { kind: 'call', content: '电话沟通' });
  }

  await page.setViewportSize({ width: 390, height: 844 });
  await logInAs(page, server, 'xiaowang');
  // The salesperson: one lead, one follow-up.
  const mine = await apiCall(page, 'POST', '/api/v1/customers', { name: '趋势小王', phone: '13800000023' });
  await apiCall(page, 'POST', `/api/v1/customers/${mine.id}/followups`, { kind: 'call', content: '电话沟通' });
  await page.goto(`${server.base}/`);
  const card = page.getByTestId('trends');
  await card.getByTestId('trends-chart').locator('svg').waitFor();
  let rows = await card.getByTestId('trends-row').allInnerTexts();
  assert(rows.length === 1 && rows[0].includes('小王'), `a salesperson ranks only themself: ${rows}`);
  assert((await card.getByTestId('trends-row-followups').innerText()) === '1', 'their one follow-up');
  assert((await card.getByTestId('trends-row-leads').innerText()) === '1', 'their one lead');
  await noSidewaysScroll(page);

  // setupAdmin's administrator, boss / 王老板.
  await logInAs(page, server, 'boss', 'a long enough pass');
  await page.goto(`${server.base}/`);
  await card.getByTestId('trends-chart').locator('svg').waitFor();
  rows = await card.getByTestId('trends-row').allInnerTexts();
  assert(rows.length === 2, `the admin ranks everyone: ${rows}`);
  assert(!rows[0].includes('小王') && rows[1].includes('小王'), `most follow-ups first: ${rows}`);
  const chartText = await card.getByTestId('trends-chart').innerText();
  assert(chartText.includes('新线索') && chartText.includes('跟进次数'), `the legend names both series: ${chartText}`);
  // Switching the language redraws the legend in it (it used to keep the first language).
  await page.getByTestId('locale-en').click();
  await page.waitForFunction(() => {
    const text = document.querySelector('[data-testid="trends-chart"]')?.textContent ?? '';
    return text.includes('New leads') && text.includes('Follow-ups') && !text.includes('新线索');
  }, null, { timeout: 5000 });
  await page.getByTestId('locale-zh-CN').click();
  await page.waitForFunction(() => (document.querySelector('[data-testid="trends-chart"]')?.textContent ?? '').includes('新线索'),
    null, { timeout: 5000 });
  await noSidewaysScroll(page);
  // The month's rankings (six columns, scrolled inside their frame) keep a short name on one
  // line at 390 px: 王老板 used to wrap one character per line.
  await page.getByTestId('rankings-row').first().waitFor();
  const nameLines = await page.locator('[data-testid="rankings-row"] .trends-name').evaluateAll((cells) =>
    cells.map((c) => {
      const range = document.createRange();
      range.selectNodeContents(c);
      return [c.innerText, new Set([...range.getClientRects()].map((r) => Math.round(r.top))).size];
    }));
  assert(nameLines.length === 2 && nameLines.every(([, lines]) => lines === 1),
    `each ranked name on one line: ${JSON.stringify(nameLines)}`);
  await page.screenshot({ path: join(artifacts, '27-dashboard-trends-phone.png'), fullPage: true });

  // 90 days: the same counts, a wider axis. The 90-day answer is held back until the tab shows
  // it is loading: the 30-day rows must not stand under the 90-day tab meanwhile.
  let release;
  const held = new Promise((resolve) => { release = resolve; });
  await page.route('**/api/v1/reports/trends?days=90', async (route) => { await held; await route.continue(); });
  await card.getByTestId('trends-90').click();
  await page.waitForFunction(() => document.querySelector('[data-testid="trends-90"]')?.getAttribute('aria-selected') === 'true');
  await card.getByTestId('trends-loading').waitFor();
  assert((await card.getByTestId('trends-row').count()) === 0, 'no 30-day rows under the 90-day tab');
  release();
  await page.locator('[data-testid="trends"][data-shown="90"]').waitFor();
  await card.getByTestId('trends-chart').locator('svg').waitFor();
  await page.unroute('**/api/v1/reports/trends?days=90');
  rows = await card.getByTestId('trends-row').allInnerTexts();
  assert(rows.length === 2, `still everyone over 90 days: ${rows}`);
  await noSidewaysScroll(page);
}

