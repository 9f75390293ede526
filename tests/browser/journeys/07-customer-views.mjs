// Customer views: the administrator defines a custom field (微信号) and a tag group (资质)
// through the API → the new-customer form shows the custom field and the grouped tag picker,
// and the detail card shows the value → on the list, two rows are ticked and tagged 公积金 with
// the bulk bar → filtering by that tag and saving the filter makes a 公积金客户 tab that
// shows only those two, while 全部 shows everyone. Screenshots: tests/browser/artifacts/07-*.png.
import { join } from 'node:path';
import { apiCall, artifacts, assert, setupAdmin } from '../harness.mjs';

const shot = (page, name) => page.screenshot({ path: join(artifacts, `07-${name}.png`) });

/** Calls the API from inside the app (its session cookie and CSRF token). */
async function rowNames(page) {
  return page.getByTestId('customer-row-link').allInnerTexts();
}

export default async function ({ page, server }) {
  await setupAdmin(page, server);
  await apiCall(page, 'POST', '/api/v1/custom-fields', { key: 'wechat', label: '微信号', kind: 'text', order: 1 });
  await apiCall(page, 'POST', '/api/v1/tag-groups', { name: '资质', tags: ['有房', '有车', '公积金'], order: 1 });
  for (const [name, phone] of [['赵一', '13800138001'], ['钱二', '13800138002'], ['孙三', '13800138003']]) {
    await apiCall(page, 'POST', '/api/v1/customers', { name, phone });
  }
  const wu = await apiCall(page, 'POST', '/api/v1/users', { username: 'wu', display_name: '小吴', roles: ['sales'], password: 'Journey-seven-2026' });
  await apiCall(page, 'POST', '/api/v1/users', { username: 'cai', display_name: '刘财务', roles: ['finance'], password: 'Journey-seven-2026' });

  // A custom field and grouped tags in the form; the value on the detail card.
  await page.goto(`${server.base}/customers`);
  await page.getByTestId('customers-table').waitFor();
  await page.getByTestId('customer-create').click();
  await page.getByTestId('customer-dialog').waitFor();
  await page.getByTestId('customer-form-name').fill('李四');
  await page.getByTestId('customer-form-phone').fill('13800138004');
  await page.getByTestId('custom-wechat').fill('lisi_wx');
  await page.getByTestId('tag-pick-有房').click();
  assert((await page.getByTestId('customer-form-tags').inputValue()).includes('有房'), 'the picker fills the tags');
  await shot(page, 'form');
  await page.getByTestId('customer-dialog-submit').click();
  await page.getByTestId('page-customer-detail').waitFor();
  const wx = await page.getByTestId('customer-custom-wechat').innerText();
  assert(wx === 'lisi_wx', `custom value on the card: ${wx}`);
  assert((await page.getByTestId('customer-owner').innerText()).includes('王老板'), 'owner named');

  // Bulk tag two rows through the bar.
  await page.getByTestId('back-to-customers').click();
  await page.getByTestId('customers-table').waitFor();
  assert((await page.getByTestId('customers-total').innerText()).includes('4'), 'four customers');
  const rows = page.getByTestId('customer-row');
  const pick = ['赵一', '钱二'];
  for (const name of pick) {
    await rows.filter({ hasText: name }).getByTestId('customer-row-check').check();
  }
  await page.getByTestId('bulk-bar').waitFor();
  assert((await page.getByTestId('bulk-count').innerText()).includes('2'), 'two selected');
  await page.getByTestId('bulk-action').selectOption('tag');
  await page.getByTestId('bulk-tags').fill('公积金');
  await shot(page, 'bulk-bar');
  await page.getByTestId('bulk-apply').click();
  await page.getByTestId('bulk-bar').waitFor({ state: 'detached' });
  for (const name of pick) {
    const tags = await rows.filter({ hasText: name }).getByTestId('customer-row-tags').innerText();
    assert(tags.includes('公积金'), `${name} tagged: ${tags}`);
  }

  // Hand one to a colleague: the picker offers only those who can work customers (not
  // finance), nobody is chosen beforehand, and applying without a choice says so.
  await rows.filter({ hasText: '孙三' }).getByTestId('customer-row-check').check();
  await page.getByTestId('bulk-action').selectOption('transfer');
  const offered = await page.getByTestId('bulk-to').locator('option').allInnerTexts();
  assert(offered.includes('小吴') && !offered.includes('刘财务'), `only colleagues who work customers: ${offered}`);
  assert(await page.getByTestId('bulk-to').inputValue() === '', 'nobody chosen beforehand');
  await page.getByTestId('bulk-apply').click();
  await page.getByTestId('bulk-error').waitFor();
  await page.getByTestId('bulk-to').selectOption(wu.id);
  await page.getByTestId('bulk-apply').click();
  await page.getByTestId('confirm-ok').click();
  await page.getByTestId('bulk-bar').waitFor({ state: 'detached' });
  await rows.filter({ hasText: '孙三' }).filter({ hasText: '小吴' }).waitFor();

  // Filter by the tag, save it as a view: a new tab with just those two.
  await page.getByTestId('filter-tag').fill('公积金');
  await page.getByTestId('filter-apply').click();
  await page.waitForFunction(() => document.querySelectorAll('[data-testid="customer-row"]').length === 2);
  // The filter is in the address: opening a customer and coming Back (or a reload) shows the
  // same filtered list, not everyone.
  assert(new URL(page.url()).searchParams.get('tag') === '公积金', `the filter in the address: ${page.url()}`);
  await page.getByTestId('customer-row-link').first().click();
  await page.getByTestId('page-customer-detail').waitFor();
  await page.goBack();
  await page.getByTestId('customers-table').waitFor();
  await page.waitForFunction(() => document.querySelectorAll('[data-testid="customer-row"]').length === 2);
  assert(await page.getByTestId('filter-tag').inputValue() === '公积金', 'the filter box still says so');
  await page.reload();
  await page.waitForFunction(() => document.querySelectorAll('[data-testid="customer-row"]').length === 2);
  await page.getByTestId('view-save').click();
  await page.getByTestId('view-dialog').waitFor();
  await page.getByTestId('view-name').fill('公积金客户');
  await page.getByTestId('view-dialog-submit').click();
  const tab = page.locator('[data-testid="view-tab-saved"][data-name="公积金客户"]');
  await tab.waitFor();
  await page.getByTestId('view-tab-all').click();
  await page.waitForFunction(() => document.querySelectorAll('[data-testid="customer-row"]').length === 4);
  await tab.click();
  await page.waitForFunction(() => document.querySelectorAll('[data-testid="customer-row"]').length === 2);
  const names = (await rowNames(page)).sort();
  assert(JSON.stringify(names) === JSON.stringify([...pick].sort()), `the saved view shows ${names}`);
  assert((await tab.getAttribute('aria-selected')) === 'true', 'the saved tab is active');
  await shot(page, 'saved-view');

  // Export the list as it is filtered (the tag goes with it), as CSV, audited.
  await page.getByTestId('customer-export').click();
  await page.getByTestId('export-dialog').waitFor();
  assert((await page.getByTestId('export-scope').innerText()).includes('公积金'), 'the filter goes with the export');
  await page.getByTestId('export-format-csv').check();
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.getByTestId('export-dialog-submit').click(),
  ]);
  assert(download.suggestedFilename() === '客户.csv', `a CSV: ${download.suggestedFilename()}`);
  const csv = await (await import('node:fs/promises')).readFile(await download.path(), 'utf8');
  assert(csv.includes('赵一') && csv.includes('钱二') && !csv.includes('孙三'), `the filtered rows only: ${csv.slice(0, 300)}`);
  await page.getByTestId('export-dialog').waitFor({ state: 'detached' });
  const audit = await apiCall(page, 'GET', '/api/v1/audit?action=customer.exported');
  assert(audit.items.length === 1, 'the export is audited');
  // A list narrowed by words the export cannot apply is not exported as if it were the same.
  await page.getByTestId('filter-q').fill('赵');
  await page.getByTestId('filter-apply').click();
  await page.waitForFunction(() => document.querySelectorAll('[data-testid="customer-row"]').length === 1);
  await page.getByTestId('customer-export').click();
  await page.getByTestId('export-blocked').waitFor();
  assert((await page.getByTestId('export-blocked').innerText()).includes('搜索词'), 'it names the condition');
  await page.getByTestId('export-dialog-cancel').click();
  // A full number searched stays out of the address (the browser's history would keep it).
  await page.getByTestId('filter-q').fill('13800138002');
  await page.getByTestId('filter-apply').click();
  await page.waitForFunction(() => document.querySelectorAll('[data-testid="customer-row"]').length === 1);
  assert(!page.url().includes('13800138002'), `no number in the address: ${page.url()}`);
  assert(new URL(page.url()).searchParams.get('tag') === '公积金', `the other filters stay: ${page.url()}`);
  assert(await page.getByTestId('filter-q').inputValue() === '13800138002', 'the search itself stays');
}
