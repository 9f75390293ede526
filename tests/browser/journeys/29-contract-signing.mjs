// Issue 20.4: a contract signed on a phone. The officer generates the 居间服务协议 on the deal
// page at 390×844 and gets the one-time link; the borrower (a separate browser, no login)
// opens it at 390×844, reads the contract, ticks each consent box (the PIPL art. 29 one
// separately), draws a signature with pointer moves on the canvas and submits. A second
// visit is refused with a clear page. The officer then sees the contract signed and moves the
// deal to 签约 without the manager's override (none audited). Nothing is wider than the phone.
// Then the admin's template editor: a preview against the deal, a misspelt placeholder named
// with its line, a save as version 2.
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
  const c = await apiCall(page, 'POST', '/api/v1/customers', {
    name: '钱七', phone: '13812345678', id_number: '11010519491231002X',
  });
  const d = await apiCall(page, 'POST', '/api/v1/deals', {
    customer_id: c.id, product_id: p.id, amount_fen: 8000000, term_months: 12,
  });
  await apiCall(page, 'POST', `/api/v1/deals/${d.id}/stage`, { stage: 'visited', note: '到店面谈' });

  // The officer, on a phone: generate the contract, issue the link.
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(`${server.base}/deals/${d.id}`);
  await page.getByTestId('deal-contracts').waitFor();
  await page.getByTestId('contracts-empty').waitFor();
  await page.getByTestId('contract-template').selectOption('default-service-agreement');
  await page.getByTestId('contract-generate').click();
  await page.getByTestId('contract-item').waitFor();
  assert((await page.getByTestId('contract-state').innerText()).includes('草稿'), 'a draft');
  await page.getByTestId('contract-link-btn').click();
  const urlBox = page.getByTestId('contract-link-url');
  await urlBox.waitFor();
  const url = await urlBox.inputValue();
  assert(/\/sign\/[0-9a-f]{64}$/.test(url), `a signing URL: ${url}`);
  await page.getByTestId('contract-link-close').click();
  await page.waitForFunction(() => document.querySelector('[data-testid="contract-state"]')?.textContent.includes('待签署'));

  // The borrower: another browser context, no cookies, a phone.
  const borrower = await page.context().browser().newContext({ viewport: { width: 390, height: 844 }, hasTouch: true });
  const phone = await borrower.newPage();
  const errors = [];
  phone.on('pageerror', (e) => errors.push(String(e)));
  const resp = await phone.goto(url);
  assert(resp.status() === 200, `the page opens: ${resp.status()}`);
  // Masked until the borrower types their own ID number (whoever else holds the link reads no
  // more than staff without reveals); then the whole contract.
  const masked = await phone.locator('article.contract').innerText();
  assert(masked.includes('居间服务协议') && masked.includes('钱七') && !masked.includes('11010519491231002X'),
    'the contract shows masked before the check');
  await phone.locator('#submit').click();
  assert((await phone.locator('#msg').innerText()).includes('核对身份'), 'signing asks for the check first');
  await phone.locator('#verify-input').fill('110105194912310011');
  await phone.locator('#verify-btn').click();
  await phone.waitForFunction(() => document.getElementById('verify-msg')?.textContent.includes('不符'));
  await phone.screenshot({ path: join(artifacts, '29-signing-verify-phone.png') });
  await phone.locator('#verify-input').fill('11010519491231002x');
  await phone.locator('#verify-btn').click();
  await phone.locator('#verify').waitFor({ state: 'detached' });
  const text = await phone.locator('article.contract').innerText();
  assert(text.includes('居间服务协议') && text.includes('钱七') && text.includes('11010519491231002X'),
    'the borrower reads the whole contract with their own ID number');
  const boxes = phone.locator('input[data-key]');
  assert((await boxes.count()) === 2, 'two consent boxes');
  assert((await phone.locator('.consent').nth(1).innerText()).includes('第二十九条'), 'the separate PIPL consent');

  // Submitting without ticking is refused on the page.
  await phone.locator('#submit').click();
  assert((await phone.locator('#msg').innerText()).includes('勾选'), 'ask to tick the boxes');
  await boxes.nth(0).check();
  await boxes.nth(1).check();

  // Draw with pointer moves on the canvas.
  const canvas = phone.locator('#pad');
  await canvas.scrollIntoViewIfNeeded();
  const box = await canvas.boundingBox();
  await phone.mouse.move(box.x + 30, box.y + box.height * 0.6);
  await phone.mouse.down();
  for (let i = 1; i <= 24; i++) {
    await phone.mouse.move(box.x + 30 + i * 10, box.y + box.height * (0.6 - 0.3 * Math.sin(i / 3)), { steps: 2 });
  }
  await phone.mouse.up();
  await phone.locator('#typed').fill('钱七');
  const wide = await phone.evaluate(() => document.documentElement.scrollWidth);
  assert(wide <= 390, `the signing page fits the phone: ${wide}`);
  await phone.screenshot({ path: join(artifacts, '29-signing-phone.png'), fullPage: true });
  await phone.locator('#submit').click();
  await phone.locator('#signed').waitFor();
  assert(errors.length === 0, `no script errors: ${errors.join('; ')}`);

  // The link works once: a second visit gets a clear page, 410.
  const again = await phone.goto(url);
  assert(again.status() === 410, `used link: ${again.status()}`);
  assert((await phone.locator('main').innerText()).includes('已使用'), 'says it was used');
  await borrower.close();

  // The officer sees it signed and moves the deal to 签约 without the override.
  await page.reload();
  await page.getByTestId('contract-item').waitFor();
  await page.waitForFunction(() => document.querySelector('[data-testid="contract-state"]')?.textContent.includes('已签署'));
  await page.getByTestId('contract-verify-btn').click();
  await page.getByText('核验通过').waitFor();
  await page.getByTestId('deal-advance-select').selectOption('signed');
  await page.getByTestId('deal-advance').click();
  await page.getByTestId('deal-move').waitFor();
  await page.getByTestId('deal-move-submit').click();
  await page.getByTestId('deal-move').waitFor({ state: 'detached' });
  const deal = await apiCall(page, 'GET', `/api/v1/deals/${d.id}`);
  assert(deal.stage === 'signed', `the deal is at 签约: ${deal.stage}`);
  const audit = await apiCall(page, 'GET', '/api/v1/audit?action=deal.override');
  assert(audit.total === 0, 'no override was needed');
  const signed = await apiCall(page, 'GET', '/api/v1/audit?action=contract.signed');
  assert(signed.total === 1, 'the signing is audited');
  const pageWide = await page.evaluate(() => document.documentElement.scrollWidth);
  assert(pageWide <= 390, `the deal page fits the phone: ${pageWide}`);
  await page.screenshot({ path: join(artifacts, '29-deal-signed-phone.png'), fullPage: true });

  // The template editor (admin): preview against this deal; a misspelt placeholder shows its
  // line and name; saving makes version 2.
  await page.goto(`${server.base}/admin/contract-templates`);
  await page.getByTestId('tpl-item').first().waitFor();
  await page.getByTestId('tpl-item').filter({ hasText: '居间服务协议' }).getByTestId('tpl-edit').click();
  await page.getByTestId('tpl-deal').waitFor();
  await page.waitForFunction(() => document.querySelector('[data-testid="tpl-deal"]')?.options.length > 0);
  await page.getByTestId('tpl-preview').click();
  await page.getByTestId('tpl-preview-html').waitFor();
  assert((await page.getByTestId('tpl-preview-html').innerText()).includes('钱七'), 'the preview is of the deal');
  const body = await page.getByTestId('tpl-body').inputValue();
  await page.getByTestId('tpl-body').fill(`${body}\n<p>{{ customer.nmae }}</p>`);
  await page.getByTestId('tpl-preview').click();
  const perr = page.getByTestId('tpl-preview-error');
  await perr.waitFor();
  assert((await perr.innerText()).includes('customer.nmae'), `names the placeholder: ${await perr.innerText()}`);
  await page.getByTestId('tpl-save').click();
  await page.getByTestId('tpl-error').waitFor();
  assert((await page.getByTestId('tpl-error').innerText()).includes('customer.nmae'), 'saving is refused');
  await page.getByTestId('tpl-body').fill(`${body}\n<p>补充条款：{{ firm.name }}</p>`);
  await page.getByTestId('tpl-save').click();
  await page.getByText('已保存为第 2 版').waitFor();
  const edWide = await page.evaluate(() => document.documentElement.scrollWidth);
  assert(edWide <= 390, `the editor fits the phone: ${edWide}`);
}
