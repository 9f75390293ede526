// Deals (业务单): a salesperson creates a deal from the customer page (product picker of the
// active products), moves it to 到访 with the card's 推进 control (the keyboard / phone way),
// then drags it onto 签约: refused without a signed contract, the server's reason shown in the
// move form. The manager (the administrator) drags it again: the override box is offered, a
// reason is required beside its field, and the move is then allowed, audited, counted.
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

const column = (page, stage) => page.locator(`[data-testid="deal-column"][data-stage="${stage}"]`);

export default async function ({ page, server }) {
  await setupAdmin(page, server);
  await apiCall(page, 'POST', '/api/v1/products', {
    name: '工薪贷', lender: '某银行', category: 'credit',
    amount_min_fen: 1000000, amount_max_fen: 30000000, term_min_months: 12, term_max_months: 36,
    rate_min_bp: 600, rate_max_bp: 1200, methods: ['annuity'],
  });
  await apiCall(page, 'POST', '/api/v1/users', { username: 'wu', display_name: '小吴', roles: ['sales'], password: PASSWORD });

  await login(page, server, 'wu', PASSWORD);
  const c = await apiCall(page, 'POST', '/api/v1/customers', { name: '赵六', phone: '13912345678' });
  await page.goto(`${server.base}/customers/${c.id}`);
  await page.getByTestId('customer-deals').waitFor();
  await page.getByTestId('customer-new-deal').click();
  await page.getByTestId('new-deal').waitFor();
  await page.getByTestId('new-deal-product').selectOption({ label: '某银行 · 工薪贷' });
  await page.getByTestId('new-deal-amount').fill('50000');
  await page.getByTestId('new-deal-term').fill('12');
  await page.getByTestId('new-deal-submit').click();
  await page.getByTestId('new-deal').waitFor({ state: 'detached' });
  await page.getByTestId('customer-deal').waitFor();
  assert((await page.getByTestId('customer-deal').innerText()).includes('邀约'), 'the new deal is at 邀约');
  // The customer's stage follows at once (header and timeline).
  await page.locator('[data-testid="timeline-event"][data-kind="stage_changed"]').waitFor();

  // The board, from the navigation.
  await page.locator('nav a[href="/deals"]').first().click();
  await page.getByTestId('deal-board').waitFor();
  const card = page.getByTestId('deal-card');
  await card.waitFor();
  assert((await card.getAttribute('data-stage')) === 'invited', 'in the 邀约 column');
  assert((await column(page, 'invited').getByTestId('deal-column-count').innerText()).includes('1'), 'counted');

  // The keyboard / phone way: the card's stage select and 推进.
  await card.getByTestId('deal-advance-select').selectOption('visited');
  await card.getByTestId('deal-advance').click();
  await column(page, 'visited').getByTestId('deal-card').waitFor();

  // Dragged onto 签约 by a salesperson: refused without a contract.
  await column(page, 'visited').getByTestId('deal-card').dragTo(column(page, 'signed'));
  await page.getByTestId('deal-move').waitFor();
  assert((await page.getByTestId('deal-move-override').count()) === 0, 'no override offered to a salesperson');
  await page.getByTestId('deal-move-submit').click();
  const refusal = page.getByTestId('deal-move-error');
  await refusal.waitFor();
  assert((await refusal.innerText()).includes('合同'), `the refusal names the contract: ${await refusal.innerText()}`);
  await page.screenshot({ path: join(artifacts, '22-deal-refused.png') });
  await page.getByTestId('deal-move-cancel').click();
  assert((await column(page, 'signed').getByTestId('deal-card').count()) === 0, 'still not signed');

  // The manager overrides, with a reason.
  await login(page, server, 'boss', 'a long enough pass');
  await page.goto(`${server.base}/deals`);
  await column(page, 'visited').getByTestId('deal-card').waitFor();
  await column(page, 'visited').getByTestId('deal-card').dragTo(column(page, 'signed'));
  await page.getByTestId('deal-move').waitFor();
  await page.getByTestId('deal-move-override').check();
  await page.getByTestId('deal-move-submit').click();
  const reasonError = page.getByTestId('deal-move-reason-error');
  await reasonError.waitFor();
  assert((await reasonError.innerText()).includes('原因'), `the reason is asked beside its field: ${await reasonError.innerText()}`);
  await page.getByTestId('deal-move-reason').fill('合同原件已收，系统补录');
  await page.getByTestId('deal-move-submit').click();
  await page.getByTestId('deal-move').waitFor({ state: 'detached' });
  await column(page, 'signed').getByTestId('deal-card').waitFor();
  assert((await column(page, 'signed').getByTestId('deal-column-count').innerText()).includes('1'), 'counted in 签约');

  // The deal page: the history shows the override.
  await column(page, 'signed').getByTestId('deal-card').locator('a').click();
  await page.getByTestId('page-deal-detail').waitFor();
  const history = await page.getByTestId('deal-history').innerText();
  assert(history.includes('合同原件已收，系统补录'), `the override in the history: ${history}`);
  const audit = await apiCall(page, 'GET', '/api/v1/audit?action=deal.override');
  assert(audit.items.length === 1, 'the override is audited');
  const customer = await apiCall(page, 'GET', `/api/v1/customers/${c.id}`);
  assert(customer.stage === 'signed', `the customer follows: ${customer.stage}`);
}
