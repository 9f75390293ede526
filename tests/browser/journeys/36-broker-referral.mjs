// Brokers (经纪人): the administrator creates a broker on the 经纪人 page (a channel exists);
// the broker signs in on a phone (390×844), sees their portal and nothing else, submits a
// referral with the borrower's consent, and sees it listed masked (赵**, 139****3333) as
// 待跟进; an officer moves the deal to 签约 and the broker sees 已签约 after a reload; the
// same borrower again is 已有客户 and not a second customer. Disbursed with the fee collected,
// the broker sees 已放款 and finance marks the 300 元 referral fee paid (经纪人返佣 page).
import { join } from 'node:path';
import { apiCall, artifacts, assert, setupAdmin } from '../harness.mjs';

const PASSWORD = 'a broker pass 2026';

export default async function ({ page, server }) {
  await setupAdmin(page, server);
  await apiCall(page, 'POST', '/api/v1/channels', { name: '经纪人-王', kind: '经纪人' });
  await apiCall(page, 'POST', '/api/v1/users', {
    username: 'wu', display_name: '吴业务', password: 'a sales pass 2026', roles: ['sales'],
  });
  const p = await apiCall(page, 'POST', '/api/v1/products', {
    name: '工薪贷', lender: '某银行', category: 'credit',
    amount_min_fen: 1000000, amount_max_fen: 30000000, term_min_months: 12, term_max_months: 36,
    rate_min_bp: 600, rate_max_bp: 1200, methods: ['annuity'],
    fees: { service_fee: { kind: 'rate', bp: 300 } },
  });

  // The administrator creates the broker.
  await page.goto(`${server.base}/admin/brokers`);
  await page.getByTestId('brokers-empty').waitFor();
  await page.getByTestId('broker-new').click();
  await page.getByTestId('broker-dialog').waitFor();
  await page.getByTestId('broker-username').fill('wangjj');
  await page.getByTestId('broker-name').fill('王经纪');
  await page.getByTestId('broker-phone').fill('13900001111');
  await page.getByTestId('broker-company').fill('某某咨询');
  await page.getByTestId('broker-password').fill(PASSWORD);
  await page.getByTestId('broker-dialog-submit').click();
  await page.getByTestId('broker-dialog').waitFor({ state: 'detached' });
  await page.locator('[data-testid="broker-row"][data-username="wangjj"]').waitFor();

  // The broker, on a phone.
  let d = null;
  const phoneCtx = await page.context().browser().newContext({ viewport: { width: 390, height: 844 } });
  try {
    const phone = await phoneCtx.newPage();
    const errors = [];
    phone.on('pageerror', (e) => errors.push(String(e)));
    await phone.goto(`${server.base}/login`);
    await phone.getByTestId('login-username').fill('wangjj');
    await phone.getByTestId('login-password').fill(PASSWORD);
    await phone.getByTestId('login-password').press('Enter');
    await phone.getByTestId('broker-portal').waitFor();
    await phone.getByTestId('referrals-empty').waitFor();
    assert(await phone.getByTestId('shell').count() === 0, 'a broker gets the portal, not the staff shell');
    // Any other address shows the portal too.
    await phone.goto(`${server.base}/customers`);
    await phone.getByTestId('broker-portal').waitFor();

    const refer = async (name, number, expected) => {
      await phone.getByTestId('referral-name').fill(name);
      await phone.getByTestId('referral-phone').fill(number);
      await phone.getByTestId('referral-city').fill('成都');
      await phone.getByTestId('referral-amount').fill('30');
      await phone.getByTestId('referral-consent').check();
      await phone.getByTestId('referral-submit').click();
      await phone.getByTestId('referral-answer').filter({ hasText: expected }).waitFor();
    };
    // Without consent: refused, nothing sent through.
    await phone.getByTestId('referral-name').fill('赵小龙');
    await phone.getByTestId('referral-phone').fill('13922223333');
    await phone.getByTestId('referral-submit').click();
    await phone.getByTestId('referral-consent-error').waitFor();

    await refer('赵小龙', '13922223333', '已提交');
    const item = phone.getByTestId('referral-item').first();
    await item.waitFor();
    assert((await item.getByTestId('referral-item-name').innerText()).trim() === '赵**', 'name masked');
    assert((await item.getByTestId('referral-item-phone').innerText()).includes('139****3333'), 'phone masked');
    assert((await item.getByTestId('referral-item-status').innerText()).trim() === '待跟进', 'following up');
    const body = await phone.locator('body').innerText();
    assert(!body.includes('13922223333') && !body.includes('赵小龙'), 'nothing unmasked on the page');
    const wide = await phone.evaluate(() => document.documentElement.scrollWidth);
    assert(wide <= 390, `nothing wider than the phone: ${wide}`);
    await phone.screenshot({ path: join(artifacts, '36-broker-portal.png'), fullPage: true });

    // The officer works the customer: a deal moved to 签约.
    const dup = await apiCall(page, 'POST', '/api/v1/customers/check-duplicate', { phone: '13922223333' });
    assert(dup.matches.length === 1, 'one customer');
    d = await apiCall(page, 'POST', '/api/v1/deals', {
      customer_id: dup.matches[0].customer_id, product_id: p.id, amount_fen: 8000000, term_months: 12,
    });
    await apiCall(page, 'POST', `/api/v1/deals/${d.id}/stage`, { stage: 'signed', override: true, reason: '合同原件已收' });
    await phone.reload();
    await phone.getByTestId('referral-item').first().waitFor();
    assert((await phone.getByTestId('referral-item-status').first().innerText()).trim() === '已签约', 'signed');

    // The same borrower again: 已有客户, still one customer.
    await refer('赵小龙', '139 2222 3333', '已有客户');
    await phone.waitForFunction(() => document.querySelectorAll('[data-testid="referral-item"]').length === 2);
    const again = await apiCall(page, 'POST', '/api/v1/customers/check-duplicate', { phone: '13922223333' });
    assert(again.matches.length === 1, 'no second customer');
    assert(errors.length === 0, `no page errors: ${errors.join('; ')}`);

    // Disbursed and the fee (3% of 50,000 元 = 1,500 元) collected: the broker sees 已放款,
    // finance sees a referral fee of 300 元 (20%) and marks it paid after confirming.
    const day = new Date(Date.now() + 8 * 3600e3).toISOString().slice(0, 10);
    for (const body of [
      { stage: 'submitted' },
      { stage: 'approved', approved_amount_fen: 5000000 },
      { stage: 'disbursed', disbursed_amount_fen: 5000000, disbursed_on: day, rate_bp: 1200,
        term_months: 12, method: 'annuity', first_repayment_date: '2099-01-02' },
    ]) {
      await apiCall(page, 'POST', `/api/v1/deals/${d.id}/stage`, body);
    }
    await apiCall(page, 'POST', `/api/v1/deals/${d.id}/payments`, {
      amount_fen: 150000, paid_on: day, method: 'transfer', payer: '赵小龙', receipt_no: 'R-36',
    });
    await phone.reload();
    await phone.waitForFunction(() => [...document.querySelectorAll('[data-testid="referral-item-status"]')]
      .some((e) => e.textContent.trim() === '已放款'));
  } finally {
    await phoneCtx.close();
  }
  // The officer's deal page names the broker.
  await page.goto(`${server.base}/deals/${d.id}`);
  assert((await page.getByTestId('deal-broker').innerText()).includes('王经纪'), 'the deal names its broker');
  await page.goto(`${server.base}/finance/referral-fees`);
  const fee = page.getByTestId('referral-fee-row');
  await fee.waitFor();
  assert((await fee.getByTestId('rf-amount').innerText()).includes('300.00'), 'a 300 元 referral fee');
  await fee.getByTestId('rf-pay').click();
  await page.getByTestId('confirm-ok').click();
  await page.getByTestId('referral-fees-empty').waitFor();
}
