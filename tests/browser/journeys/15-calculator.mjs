// 还款计算器 on a phone (390×844): a salesperson opens the calculator from the navigation (更多),
// enters ¥1,000,000 / 4.9% / 360 months / 等额本息 and reads ¥5,307.27 a month, a comprehensive
// cost of 4.90% and 360 rows (the table scrolls sideways inside its card, the page does not),
// the same in English;
// 等额本金 starts at ¥6,861.11; a fee raises the comprehensive cost; a form error names the
// field, and so does the server's refusal of a fee as large as the loan.
import { join } from 'node:path';
import { apiCall, artifacts, assert, setupAdmin } from '../harness.mjs';

const shot = (page, name) => page.screenshot({ path: join(artifacts, `15-${name}.png`), fullPage: false });
const PASSWORD = 'sales pass 2026!';

async function text(page, testid) {
  return (await page.getByTestId(testid).innerText()).trim();
}

export default async function ({ page, server }) {
  await setupAdmin(page, server);
  await apiCall(page, 'POST', '/api/v1/users', { username: 'wu', display_name: '小吴', roles: ['sales'], password: PASSWORD });

  // A phone, and the salesperson signed in on it.
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(`${server.base}/login`);
  await page.getByTestId('login-username').fill('wu');
  await page.getByTestId('login-password').fill(PASSWORD);
  await page.getByTestId('login-password').press('Enter');
  await page.getByTestId('shell').waitFor();

  await page.getByTestId('nav-more').click();
  await page.getByTestId('nav-calculator').click();
  await page.getByTestId('page-calculator').waitFor();
  assert((await page.getByTestId('calc-empty').count()) === 1, 'an empty state before the first calculation');

  // A missing term is caught in the form, next to its field.
  await page.getByTestId('calc-principal').fill('1000000');
  await page.getByTestId('calc-rate').fill('4.9');
  await page.getByTestId('calc-submit').click();
  await page.getByTestId('calc-months-error').waitFor();
  assert(await page.getByTestId('calc-months').evaluate((el) => el === document.activeElement), 'the wrong field has the focus');

  await page.getByTestId('calc-months').fill('360');
  await page.getByTestId('calc-method').selectOption('annuity');
  await page.getByTestId('calc-submit').click();
  await page.getByTestId('calc-summary').waitFor();
  const monthly = await text(page, 'calc-first-payment');
  assert(monthly === '¥5,307.27', `monthly payment ¥5,307.27, got ${monthly}`);
  assert((await text(page, 'calc-cost')) === '4.90%', `comprehensive cost 4.90%, got ${await text(page, 'calc-cost')}`);
  assert((await text(page, 'calc-last-payment')) === '¥5,305.19', `last payment absorbs the rounding: ${await text(page, 'calc-last-payment')}`);
  assert((await page.getByTestId('calc-row').count()) === 360, '360 rows');
  assert(await page.getByText('¥5,307.27').first().isVisible(), '¥5,307.27 is on screen');

  // On the phone the page itself never scrolls sideways; the schedule scrolls inside its card.
  const layout = await page.evaluate(() => {
    const wrap = document.querySelector('.calc-table-wrap');
    return {
      page: document.documentElement.scrollWidth,
      viewport: window.innerWidth,
      wrapScrolls: wrap.scrollWidth > wrap.clientWidth,
      overflow: getComputedStyle(wrap).overflowX,
    };
  });
  assert(layout.page <= layout.viewport, `no sideways page scroll: ${JSON.stringify(layout)}`);
  assert(layout.overflow === 'auto', `the table wrap scrolls: ${JSON.stringify(layout)}`);
  await page.getByTestId('calc-summary').evaluate((el) => el.scrollIntoView({ block: 'start' }));
  await shot(page, 'summary');
  await page.getByTestId('calc-schedule').evaluate((el) => el.scrollIntoView({ block: 'start' }));
  await shot(page, 'schedule');

  // English through the dictionaries: the same figures under English labels.
  await page.getByTestId('locale-en').click();
  await page.getByText('Comprehensive annual cost').first().waitFor();
  assert((await text(page, 'calc-first-payment')) === '¥5,307.27', 'figures unchanged in English');
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  assert(width <= 390, `no sideways page scroll in English either (longer labels): ${width}`);
  await page.getByTestId('calc-summary').evaluate((el) => el.scrollIntoView({ block: 'start' }));
  await shot(page, 'summary-en');
  await page.getByTestId('locale-zh-CN').click();

  // 等额本金: the first month is ¥6,861.11.
  await page.getByTestId('calc-method').selectOption('equal_principal');
  await page.getByTestId('calc-submit').click();
  await page.waitForFunction(() => document.querySelector('[data-testid="calc-first-payment"]')?.innerText.trim() === '¥6,861.11');

  // A ¥10,000 fee up front costs more than 4.9% a year.
  await page.getByTestId('calc-method').selectOption('annuity');
  await page.getByTestId('calc-fee').fill('10000');
  await page.getByTestId('calc-submit').click();
  await page.getByTestId('calc-total-fee').waitFor();
  await page.waitForFunction(() => document.querySelector('[data-testid="calc-cost"]')?.innerText.trim() === '4.99%');

  // The server refuses a fee as large as the loan and names the field; the form shows it there.
  await page.getByTestId('calc-fee').fill('1000000');
  await page.getByTestId('calc-submit').click();
  await page.getByTestId('calc-fee-error').waitFor();
  const refusal = await text(page, 'calc-fee-error');
  assert(/费用/.test(refusal), `the fee's refusal, in Chinese: ${refusal}`);
  await shot(page, 'fee-refused');
}
