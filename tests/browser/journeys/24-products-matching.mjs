// Credit products and matching: the admin adds a product on /admin/products (a server refusal is
// shown beside its field), a customer's page shows it as a near miss with what would change the
// answer, the qualification is completed in the compact form and the panel turns the product
// eligible with an estimate — on a 390×844 phone without sideways scrolling.
import { join } from 'node:path';
import { apiCall, artifacts, assert, setupAdmin } from '../harness.mjs';

export default async function ({ page, server }) {
  await setupAdmin(page, server);
  await page.goto(`${server.base}/admin/products`);
  await page.getByTestId('products-empty').waitFor();
  await page.getByTestId('product-create').click();
  await page.getByTestId('product-dialog').waitFor();
  await page.getByTestId('product-name').fill('工薪贷');
  await page.getByTestId('product-lender').fill('某银行');
  await page.getByTestId('product-min_amount_fen').fill('1');
  await page.getByTestId('product-max_amount_fen').fill('30');
  await page.getByTestId('product-min_term_months').fill('12');
  await page.getByTestId('product-max_term_months').fill('36');
  await page.getByTestId('product-min_rate_bp').fill('6');
  await page.getByTestId('product-max_rate_bp').fill('12');
  await page.getByTestId('product-requirements-min_social_security_months').fill('12');
  // An upper age below the lower one: the server names the field, shown beside it.
  await page.getByTestId('product-requirements-min_age').fill('40');
  await page.getByTestId('product-requirements-max_age').fill('30');
  await page.getByTestId('product-dialog-submit').click();
  const err = page.getByTestId('product-requirements-max_age-error');
  await err.waitFor();
  assert((await err.innerText()).includes('下限不能大于上限'), `reason beside the field: ${await err.innerText()}`);
  await page.getByTestId('product-requirements-min_age').fill('');
  await page.getByTestId('product-requirements-max_age').fill('');
  await page.getByTestId('product-dialog-submit').click();
  await page.getByTestId('product-dialog').waitFor({ state: 'detached' });
  const row = await page.getByTestId('product-row').innerText();
  assert(row.includes('工薪贷') && row.includes('1–30') && row.includes('6.00%–12.00%'), `the row: ${row}`);
  const [p] = (await apiCall(page, 'GET', '/api/v1/products')).items;
  assert(p.max_amount_fen === 30000000 && p.min_rate_bp === 600, `sent as fen and bp: ${JSON.stringify(p)}`);

  const c = await apiCall(page, 'POST', '/api/v1/customers', {
    name: '周九', phone: '13712345678', demand: { amount_fen: 10000000, term_months: 12 },
    profile: { occupation: 'employee', social_security_months: 6 },
  });
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(`${server.base}/customers/${c.id}`);
  const panel = page.getByTestId('customer-matches');
  await panel.getByTestId('match-item').waitFor();
  let text = await panel.innerText();
  assert(text.includes('社保缴纳 6 个月，要求 ≥ 12 个月') && text.includes('再缴 6 个月社保即可申请'), `near miss: ${text}`);
  await page.screenshot({ path: join(artifacts, '24-matches-near-miss.png'), fullPage: true });

  await page.getByTestId('qualification-edit').click();
  await page.getByTestId('qualification-dialog').waitFor();
  await page.getByTestId('qf-profile-social-security-months').fill('12');
  await page.getByTestId('qualification-dialog-submit').click();
  await page.getByTestId('qualification-dialog').waitFor({ state: 'detached' });
  await panel.locator('[data-status="eligible"]').waitFor();
  text = await panel.innerText();
  assert(text.includes('预计可贷 10 万元 · 12 个月'), `estimate after the profile changed: ${text}`);
  assert(text.includes('8,606.64'), `first payment at 6%: ${text}`);
  const wide = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert(wide <= 0, `no sideways scroll at 390 px (${wide} px too wide)`);
  await page.screenshot({ path: join(artifacts, '24-matches-eligible.png'), fullPage: true });

  // The reverse match from the products page: who now qualifies, as a list to work.
  await page.goto(`${server.base}/admin/products`);
  await page.getByTestId('product-candidates-open').click();
  const cands = page.getByTestId('product-candidates');
  await cands.getByTestId('product-candidate').first().waitFor();
  const summary = await cands.getByTestId('product-candidates-summary').innerText();
  assert(summary.includes('可做 1'), `one eligible customer: ${summary}`);
  assert((await cands.getByTestId('product-candidate').innerText()).includes('周九'), 'the customer listed');
  await cands.getByTestId('product-candidates-needs_info').click();
  await cands.getByTestId('product-candidates-none').waitFor();
  await page.getByTestId('product-candidates-close').click();

  // A product sheet from the products page: a bad cell is listed with its row and value and
  // nothing is imported; the corrected sheet imports.
  await page.goto(`${server.base}/admin/products`);
  await page.getByTestId('product-sheet-open').click();
  const header = '产品名称,放款机构,类别,最低额度(万元),最高额度(万元),最短期限(月),最长期限(月),最低年利率(%),最高年利率(%),还款方式\n';
  const file = (rows) => ({ name: 'products.csv', mimeType: 'text/csv', buffer: Buffer.from(header + rows) });
  await page.getByTestId('product-sheet-file').setInputFiles(file('车主贷,某消金,车贷,5,20,12,36,7,24,按月付\n'));
  await page.getByTestId('product-sheet-check').click();
  let report = await page.getByTestId('product-sheet-report').innerText();
  assert(report.includes('按月付') && report.includes('还款方式'), `the bad cell listed: ${report}`);
  await page.getByTestId('product-sheet-file').setInputFiles(file('车主贷,某消金,车贷,5,20,12,36,7,24,等额本息\n'));
  await page.getByTestId('product-sheet-submit').click();
  await page.getByTestId('product-sheet-report').waitFor();
  await page.waitForFunction(() => document.querySelectorAll('[data-testid="product-row"]').length === 2);
  report = await page.getByTestId('product-sheet-report').innerText();
  assert(report.includes('新建 1'), `imported: ${report}`);
}
