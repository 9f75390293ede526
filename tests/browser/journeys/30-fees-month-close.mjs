// Fees on a phone (390×844): a disbursed deal's 费用 card shows the agreed fee (3% of the
// disbursed amount); a payment recorded there moves the balance and writes the officer's
// commission line, seen on 我的提成; the 业绩目标 page shows the fee target's progress move;
// the current month offers no 月结 (it is not over); finance closes last month (with a
// confirmation) and it shows a lock; back on the deal, last month's payment is locked (its
// remove button disabled) and a new payment dated in the closed month is refused with the
// server's reason. Last, a
// manager (finance.read over a department) does not see 渠道 in the navigation: channels are
// firm-wide numbers the server refuses them (403), and the page says so if opened directly.
// Finance's 工作台 (phone) shows money: what is owed and late, this month's takings and the
// months waiting for their close, not the sales team's follow-up table.
import { join } from 'node:path';
import { apiCall, artifacts, assert, logInAs, setupAdmin } from '../harness.mjs';

export default async function ({ page, server }) {
  await setupAdmin(page, server);
  const today = new Date(Date.now() + 8 * 3600e3).toISOString().slice(0, 10);
  const month = today.slice(0, 7);
  // Disbursed mid-last-month, so that a payment falls in a month that is over.
  const [y, mo] = month.split('-').map(Number);
  const last = mo === 1 ? `${y - 1}-12` : `${y}-${String(mo - 1).padStart(2, '0')}`;
  const lastDay = `${last}-15`;
  const p = await apiCall(page, 'POST', '/api/v1/products', {
    name: '工薪贷', lender: '某银行', category: 'credit',
    amount_min_fen: 1000000, amount_max_fen: 30000000, term_min_months: 12, term_max_months: 36,
    rate_min_bp: 600, rate_max_bp: 1200, methods: ['annuity'],
    fees: { service_fee: { kind: 'rate', bp: 300 }, lender_rebate_bp: 100 },
  });
  const c = await apiCall(page, 'POST', '/api/v1/customers', { name: '钱七', phone: '13812345678' });
  const d = await apiCall(page, 'POST', '/api/v1/deals', {
    customer_id: c.id, product_id: p.id, amount_fen: 5000000, term_months: 12,
  });
  const first = new Date(Date.now() + 8 * 3600e3 + 30 * 86400e3).toISOString().slice(0, 10);
  for (const body of [
    { stage: 'signed', override: true, reason: '合同原件已收' },
    { stage: 'submitted' },
    { stage: 'approved', approved_amount_fen: 5000000 },
    { stage: 'disbursed', disbursed_amount_fen: 5000000, disbursed_on: lastDay, rate_bp: 1200,
      term_months: 12, method: 'annuity', first_repayment_date: first },
  ]) {
    await apiCall(page, 'POST', `/api/v1/deals/${d.id}/stage`, body);
  }

  const me = await apiCall(page, 'GET', '/api/v1/me');
  await apiCall(page, 'PUT', '/api/v1/targets', { month, user_id: (me.user || me).id, fees_fen: 100000 });

  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(`${server.base}/targets`);
  await page.getByTestId('target-fees-pct').waitFor();
  assert((await page.getByTestId('target-fees-pct').innerText()).includes('0.00%'), 'nothing received yet');
  await page.goto(`${server.base}/deals/${d.id}`);
  await page.getByTestId('deal-fees').waitFor();
  const agreed = await page.getByTestId('fee-agreed').innerText();
  assert(agreed.includes('1,500.00') && agreed.includes('3%'), `3% of 50,000: ${agreed}`);
  assert((await page.getByTestId('fee-rebate').innerText()).includes('500.00'), 'the rebate receivable');
  await page.getByTestId('fees-empty').waitFor();

  // The product's fee changes to 4% after the deal was made: the deal keeps 3% until finance
  // recomputes with the product's current fee (with a reason), then goes back to 3% the same way.
  await apiCall(page, 'PATCH', `/api/v1/products/${d.product.id}`, { fee: { kind: 'rate', bp: 400 } });
  await page.getByTestId('fee-recompute').click();
  await page.getByTestId('fee-recompute-dialog').waitFor();
  assert(!(await page.getByTestId('fee-recompute-product').isChecked()), 'the deal keeps its own terms unless asked');
  await page.getByTestId('fee-recompute-product').check();
  await page.getByTestId('confirm-ok').click();
  await page.getByTestId('fee-recompute-dialog').getByText('请填写原因').waitFor();
  await page.getByTestId('fee-recompute-reason').fill('产品服务费调整');
  await page.getByTestId('confirm-ok').click();
  await page.getByTestId('fee-recompute-dialog').waitFor({ state: 'detached' });
  await page.waitForFunction(() => document.querySelector('[data-testid="fee-agreed"]')?.textContent.includes('2,000.00'));
  await apiCall(page, 'PATCH', `/api/v1/products/${d.product.id}`, { fee: { kind: 'rate', bp: 300 } });
  await apiCall(page, 'POST', `/api/v1/deals/${d.id}/fee-recompute`, { reason: '改回', product_fee: true });
  await page.reload();
  await page.waitForFunction(() => document.querySelector('[data-testid="fee-agreed"]')?.textContent.includes('1,500.00'));

  // Record 500 元: the balance moves to 1,000.
  await page.getByTestId('fee-pay').click();
  await page.getByTestId('fee-payment-dialog').waitFor();
  await page.getByTestId('fee-amount').fill('500');
  await page.getByTestId('fee-receipt').fill('SJ-0001');
  await page.getByTestId('fee-payment-dialog-submit').click();
  await page.getByTestId('fee-payment-dialog').waitFor({ state: 'detached' });
  await page.waitForFunction(() => document.querySelector('[data-testid="fee-balance"]')?.textContent.includes('1,000.00'));
  assert((await page.getByTestId('fee-payment-row').count()) === 1, 'one payment row');
  const wide = await page.evaluate(() => document.documentElement.scrollWidth);
  assert(wide <= 390, `nothing wider than the phone: ${wide}`);
  await page.screenshot({ path: join(artifacts, '30-deal-fees-phone.png'), fullPage: true });

  // The officer (the admin here) sees the commission line: 10% of 500 = 50 元.
  await page.goto(`${server.base}/commissions`);
  await page.getByTestId('commission-line').first().waitFor();
  assert((await page.getByTestId('commission-amount').first().innerText()).includes('50.00'), 'the officer line');
  assert((await page.getByTestId('commission-total').innerText()).includes('50.00'), 'the month total');
  // The line names its deal as people do: the customer and the product.
  const dealCell = await page.getByTestId('commission-deal').first().innerText();
  assert(dealCell.includes('钱七') && dealCell.includes('工薪贷'), `the deal named: ${dealCell}`);

  // The fee target (1,000 元) is half done.
  await page.goto(`${server.base}/targets`);
  await page.getByTestId('target-fees-pct').waitFor();
  assert((await page.getByTestId('target-fees-pct').innerText()).includes('50.00%'), 'the progress moved');
  const targetsWide = await page.evaluate(() => document.documentElement.scrollWidth);
  assert(targetsWide <= 390, `the targets page fits the phone: ${targetsWide}`);

  // 200 元 paid last month. This month is not over: no 月结 offered. Close last month (a
  // confirmation first); it shows a lock.
  await apiCall(page, 'POST', `/api/v1/deals/${d.id}/payments`, {
    amount_fen: 20000, paid_on: lastDay, method: 'transfer', receipt_no: 'SJ-0000',
  });
  // The 工作台 names last month as waiting for its close (it is over and has a payment).
  await page.goto(`${server.base}/`);
  const waiting = await page.getByTestId('finance-today-close-value').innerText();
  assert(waiting.includes(last) && !waiting.includes(month), `last month waits, this month does not: ${waiting}`);
  await page.goto(`${server.base}/finance/months`);
  const current = page.locator(`[data-testid="finance-month-row"][data-month="${month}"]`);
  const row = page.locator(`[data-testid="finance-month-row"][data-month="${last}"]`);
  await row.waitFor();
  assert((await current.getByTestId('month-close').count()) === 0, 'the current month cannot be closed yet');
  await row.getByTestId('month-close').click();
  await page.getByTestId('month-close-dialog').waitFor();
  await page.getByTestId('confirm-ok').click();
  await page.getByTestId('month-close-dialog').waitFor({ state: 'detached' });
  await row.getByTestId('month-locked').waitFor();
  await row.getByTestId('month-verify').click();
  assert((await row.getByTestId('month-verified').innerText()).includes('校验通过'), 'the frozen hash verifies');
  const monthsWide = await page.evaluate(() => document.documentElement.scrollWidth);
  assert(monthsWide <= 390, `the months fit the phone: ${monthsWide}`);
  await page.screenshot({ path: join(artifacts, '30-month-closed-phone.png'), fullPage: true });

  // Back on the deal: last month's payment is locked and cannot be removed, this month's is
  // not; a new payment dated in the closed month is refused with the reason.
  await page.goto(`${server.base}/deals/${d.id}`);
  await page.getByTestId('fee-payment-row').first().waitFor();
  const locked = page.locator('[data-testid="fee-payment-row"][data-locked="true"]');
  assert((await locked.count()) === 1, 'one row is locked');
  assert((await locked.innerText()).includes(lastDay), `the locked row is last month's: ${await locked.innerText()}`);
  await locked.getByTestId('fee-locked').waitFor();
  assert(await locked.getByTestId('fee-payment-remove').isDisabled(), 'remove is disabled on a locked row');
  const open = page.locator('[data-testid="fee-payment-row"][data-locked="false"]');
  assert(!(await open.getByTestId('fee-payment-remove').isDisabled()), "this month's row can still be removed");
  await page.getByTestId('fee-pay').click();
  await page.getByTestId('fee-payment-dialog').waitFor();
  await page.getByTestId('fee-date').fill(lastDay);
  await page.getByTestId('fee-receipt').fill('SJ-0002');
  await page.getByTestId('fee-payment-dialog-submit').click();
  const err = page.getByTestId('fee-payment-dialog-error');
  await err.waitFor();
  assert((await err.innerText()).includes('已月结'), `the refusal is shown: ${await err.innerText()}`);
  await page.screenshot({ path: join(artifacts, '30-locked-refused-phone.png'), fullPage: true });

  // A manager: finance pages yes, 渠道 no (hidden; the server still refuses with 403).
  const dept = await apiCall(page, 'POST', '/api/v1/departments', { name: '一部' });
  await apiCall(page, 'POST', '/api/v1/users', {
    username: 'jingli', display_name: '王经理', roles: ['manager'], password: 'team pass 2026!', department_id: dept.id,
  });
  await apiCall(page, 'POST', '/api/v1/users', {
    username: 'caiwu', display_name: '刘财务', roles: ['finance'], password: 'team pass 2026!',
  });
  await page.setViewportSize({ width: 1280, height: 900 });
  await logInAs(page, server, 'jingli', 'team pass 2026!');
  await page.getByTestId('nav-finance-receivables').waitFor();
  assert((await page.getByTestId('nav-finance-channels').count()) === 0, 'no 渠道 entry for a manager');
  const status = await page.evaluate(async () => (await fetch('/api/v1/channels', { credentials: 'same-origin' })).status);
  assert(status === 403, `the server refuses channels to a manager: ${status}`);
  await page.goto(`${server.base}/finance/channels`);
  await page.getByTestId('page-forbidden').waitFor();

  // Finance's 工作台 on a phone: the money, not the team's follow-ups.
  await page.setViewportSize({ width: 390, height: 844 });
  await logInAs(page, server, 'caiwu', 'team pass 2026!');
  await page.getByTestId('finance-today-owed').waitFor();
  const owed = await apiCall(page, 'GET', '/api/v1/finance/receivables');
  const money = (fen) => (fen / 100).toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  assert(owed.total_fen > 0, `something is owed: ${owed.total_fen}`);
  const owedText = await page.getByTestId('finance-today-owed-value').innerText();
  assert(owedText.includes(money(owed.total_fen)), `the owed tile shows the receivables: ${owedText} vs ${owed.total_fen}`);
  const closeText = await page.getByTestId('finance-today-close-value').innerText();
  assert(closeText.includes('没有待结的月份'), `last month is closed and earlier ones are empty: ${closeText}`);
  assert((await page.getByTestId('team-today').count()) === 0, 'no team follow-up table for finance');
  assert((await page.getByTestId('todos').count()) === 0, 'no follow-up reminders for finance');
  await page.locator('[data-testid="trends"][data-shown="30"]').waitFor();
  await page.locator('[data-testid="rankings-card"][data-shown="fees"]').waitFor();
  const homeWide = await page.evaluate(() => document.documentElement.scrollWidth);
  assert(homeWide <= 390, `finance's home fits the phone: ${homeWide}`);
  await page.screenshot({ path: join(artifacts, '30-finance-home-phone.png'), fullPage: true });
}
