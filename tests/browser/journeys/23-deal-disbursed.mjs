// A deal disbursed from its page on a phone (390×844): the 推进 control opens the
// disbursement form (amount, date, rate, term, method, first repayment), the server's refusal
// of an amount above the approved one is shown beside that field; once disbursed, the page
// shows the repayment schedule with the service fee and the comprehensive annual cost, and
// nothing is wider than the screen. The list view filters by stage.
import { join } from 'node:path';
import { apiCall, artifacts, assert, setupAdmin } from '../harness.mjs';

export default async function ({ page, server }) {
  await setupAdmin(page, server);
  const p = await apiCall(page, 'POST', '/api/v1/products', {
    name: '工薪贷', lender: '某银行', category: 'credit',
    amount_min_fen: 1000000, amount_max_fen: 30000000, term_min_months: 12, term_max_months: 36,
    rate_min_bp: 600, rate_max_bp: 1200, methods: ['annuity'],
    fees: { service_fee: { kind: 'rate', bp: 300 } },
  });
  const c = await apiCall(page, 'POST', '/api/v1/customers', { name: '钱七', phone: '13812345678' });
  const d = await apiCall(page, 'POST', '/api/v1/deals', {
    customer_id: c.id, product_id: p.id, amount_fen: 8000000, term_months: 12,
  });
  for (const body of [
    { stage: 'signed', override: true, reason: '合同原件已收' },
    { stage: 'submitted' },
    { stage: 'approved', approved_amount_fen: 5000000 },
  ]) {
    await apiCall(page, 'POST', `/api/v1/deals/${d.id}/stage`, body);
  }

  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(`${server.base}/deals/${d.id}`);
  await page.getByTestId('page-deal-detail').waitFor();
  assert((await page.getByTestId('deal-approved').innerText()).includes('50,000.00'), 'the approved amount');
  await page.getByTestId('deal-advance-select').selectOption('disbursed');
  await page.getByTestId('deal-advance').click();
  await page.getByTestId('deal-move').waitFor();
  assert((await page.getByTestId('deal-move-disbursedAmount').inputValue()) === '50000', 'the approved amount is proposed');
  await page.getByTestId('deal-move-disbursedAmount').fill('60000');
  await page.getByTestId('deal-move-rate').fill('12');
  await page.getByTestId('deal-move-submit').click();
  const err = page.getByTestId('deal-move-disbursedAmount-error');
  await err.waitFor();
  assert((await err.innerText()).includes('审批金额'), `the reason beside the field: ${await err.innerText()}`);
  await page.getByTestId('deal-move-disbursedAmount').fill('50000');
  await page.getByTestId('deal-move-submit').click();
  await page.getByTestId('deal-move').waitFor({ state: 'detached' });

  await page.getByTestId('deal-schedule').waitFor();
  assert((await page.getByTestId('deal-advance-select').inputValue()) === 'fee_collected', 'the next stage is offered');
  assert((await page.getByTestId('deal-schedule-row').count()) === 12, '12 periods');
  const cost = await page.getByTestId('deal-cost').innerText();
  assert(/综合年化成本 1[0-9]\.\d\d%/.test(cost), `the comprehensive cost above the 12% rate: ${cost}`);
  const wide = await page.evaluate(() => document.documentElement.scrollWidth);
  assert(wide <= 390, `nothing wider than the phone: ${wide}`);
  await page.screenshot({ path: join(artifacts, '23-deal-schedule-phone.png'), fullPage: true });

  // The board on the phone: the columns scroll inside it, the page does not; cards stay
  // inside their column.
  await page.goto(`${server.base}/deals`);
  await page.getByTestId('deal-board').waitFor();
  const boardWide = await page.evaluate(() => document.documentElement.scrollWidth);
  assert(boardWide <= 390, `the board page is not wider than the phone: ${boardWide}`);
  const fits = await page.evaluate(() => [...document.querySelectorAll('[data-testid="deal-card"]')]
    .every((card) => card.getBoundingClientRect().right <= card.closest('[data-testid="deal-column"]').getBoundingClientRect().right + 0.5));
  assert(fits, 'every card inside its column');

  await page.setViewportSize({ width: 1366, height: 768 });
  await page.goto(`${server.base}/deals?view=list`);
  await page.getByTestId('deal-list').waitFor();
  await page.getByTestId('deal-filter-stage').selectOption('disbursed');
  await page.waitForFunction(() => document.querySelector('[data-testid="deal-list-total"]')?.textContent.includes('1'));
  assert((await page.getByTestId('deal-row').count()) === 1, 'one disbursed deal');
  await page.getByTestId('deal-filter-stage').selectOption('invited');
  await page.getByText('没有符合条件的业务单').waitFor();

  // A loan whose first repayment is in two days reminds its officer on the dashboard (16.8).
  const d2 = await apiCall(page, 'POST', '/api/v1/deals', {
    customer_id: c.id, product_id: p.id, amount_fen: 5000000, term_months: 12,
  });
  const iso = (n) => new Date(Date.now() + 8 * 3600e3 + n * 86400e3).toISOString().slice(0, 10);
  for (const body of [
    { stage: 'signed', override: true, reason: '合同原件已收' },
    { stage: 'submitted' },
    { stage: 'approved', approved_amount_fen: 5000000 },
    { stage: 'disbursed', disbursed_amount_fen: 5000000, disbursed_on: iso(0), rate_bp: 1200,
      term_months: 12, method: 'annuity', first_repayment_date: iso(2) },
  ]) {
    await apiCall(page, 'POST', `/api/v1/deals/${d2.id}/stage`, body);
  }
  await page.goto(`${server.base}/`);
  const reminders = page.getByTestId('deal-reminders-today');
  await reminders.waitFor();
  const text = await reminders.innerText();
  assert(text.includes('钱七') && text.includes('首期还款') && text.includes(iso(2)), `the reminder: ${text}`);
}
