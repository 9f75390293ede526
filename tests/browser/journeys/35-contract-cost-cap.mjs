// The comprehensive-cost cap on contracts (issue 16.7), on a phone (390×844): a manager's deal
// whose worst-case annualised cost is above the firm's 36% cap. Generating its contract is
// refused with the Chinese reason naming the cost and the cap; the manager ticks the override,
// gives a reason and the contract is made; sending the signing link is checked again: refused,
// overridden with a reason, and the one-time link is shown. Both overrides are in the audit log.
import { join } from 'node:path';
import { apiCall, artifacts, assert, setupAdmin } from '../harness.mjs';

const PASSWORD = 'team pass 2026!';

export default async function ({ page, server }) {
  await setupAdmin(page, server);
  const dept = await apiCall(page, 'POST', '/api/v1/departments', { name: '一部' });
  await apiCall(page, 'POST', '/api/v1/users', {
    username: 'jingli', display_name: '王经理', roles: ['manager'], password: PASSWORD, department_id: dept.id,
  });
  // 24% at most with a 20% service fee up front: far above 36% a year on every method.
  const p = await apiCall(page, 'POST', '/api/v1/products', {
    name: '急用贷', lender: '某小贷', category: 'credit',
    amount_min_fen: 100000, amount_max_fen: 10000000, term_min_months: 6, term_max_months: 24,
    rate_min_bp: 1800, rate_max_bp: 2400, methods: ['annuity', 'interest_only'],
    fees: { service_fee: { kind: 'rate', bp: 2000 } },
  });

  await page.context().clearCookies();
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(`${server.base}/login`);
  await page.getByTestId('login-username').fill('jingli');
  await page.getByTestId('login-password').fill(PASSWORD);
  await page.getByTestId('login-password').press('Enter');
  await page.getByTestId('shell').waitFor();
  const c = await apiCall(page, 'POST', '/api/v1/customers', { name: '钱七', phone: '13812345678' });
  const d = await apiCall(page, 'POST', '/api/v1/deals', {
    customer_id: c.id, product_id: p.id, amount_fen: 1000000, term_months: 12,
  });

  await page.goto(`${server.base}/deals/${d.id}`);
  const card = page.getByTestId('deal-contracts');
  await card.waitFor();
  await page.getByTestId('contract-generate').click();
  const dialog = page.getByTestId('contract-cap');
  await dialog.waitFor();
  const message = await page.getByTestId('contract-cap-message').innerText();
  assert(message.includes('综合年化成本') && message.includes('36.00%') && message.includes('经理特批'),
    `the Chinese refusal names the cost and the cap: ${message}`);
  assert(/综合年化成本 \d+\.\d\d%/.test(message), `the computed cost is shown: ${message}`);
  assert((await page.getByTestId('contract-cap-basis').innerText()).includes('最高利率'), 'which terms were costed');
  const wide = await page.evaluate(() => document.documentElement.scrollWidth);
  assert(wide <= 390, `the dialog fits the phone: ${wide}`);
  await page.screenshot({ path: join(artifacts, '35-cost-cap-refused-phone.png'), fullPage: true });

  // Without the tick (or a reason) nothing is sent; with both, the contract is made.
  await page.getByTestId('contract-cap-submit').click();
  await page.getByText('请先勾选经理特批').waitFor();
  await page.getByTestId('contract-cap-override').check();
  await page.getByTestId('contract-cap-submit').click();
  await page.getByTestId('contract-cap-reason-error').waitFor();
  await page.getByTestId('contract-cap-reason').fill('客户已书面确认全部费用，急需周转');
  await page.getByTestId('contract-cap-submit').click();
  await dialog.waitFor({ state: 'detached' });
  await page.getByTestId('contract-item').first().waitFor();
  assert((await page.getByTestId('contract-state').first().innerText()).includes('草稿'), 'a draft contract');

  // Sending the link is checked again.
  await page.getByTestId('contract-link-btn').first().click();
  await dialog.waitFor();
  assert((await page.getByTestId('contract-cap-message').innerText()).includes('36.00%'), 'refused again');
  await page.getByTestId('contract-cap-override').check();
  await page.getByTestId('contract-cap-reason').fill('经理复核通过');
  await page.getByTestId('contract-cap-submit').click();
  await page.getByTestId('contract-link').waitFor();
  const url = await page.getByTestId('contract-link-url').inputValue();
  assert(/\/sign\/[0-9a-f]{64}$/.test(url), `the one-time link: ${url}`);
  await page.screenshot({ path: join(artifacts, '35-cost-cap-link-phone.png'), fullPage: true });

  // Both overrides are audited with their reasons (read as the administrator).
  await page.context().clearCookies();
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.goto(`${server.base}/login`);
  await page.getByTestId('login-username').fill('boss');
  await page.getByTestId('login-password').fill('a long enough pass');
  await page.getByTestId('login-password').press('Enter');
  await page.getByTestId('shell').waitFor();
  const audit = await apiCall(page, 'GET', '/api/v1/audit?action=deal.override');
  const reasons = audit.items.map((r) => `${r.detail.rule}:${r.detail.step}:${r.detail.reason}`);
  assert(reasons.length === 2 && reasons.includes('cost_cap:create:客户已书面确认全部费用，急需周转')
    && reasons.includes('cost_cap:link:经理复核通过'), `two audited overrides: ${reasons}`);
}
