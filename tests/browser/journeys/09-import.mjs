// Import: first-run setup → from the customer list, open 导入 → choose a GBK CSV with a title
// line → the mapping step shows the encoding, the header and the first rows, with one select
// per column → map the unrecognised 住处 column to 地址 → start → the progress bar and the
// counts (3 created, 1 rejected) → the rejected row with its reason → download the error
// report (an XLSX) → the customers are in the list. Screenshots: tests/browser/artifacts/09-*.png.
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { artifacts, assert } from '../harness.mjs';

const ADMIN = { username: 'boss', display: '王老板', password: 'a long enough pass' };
const shot = (page, name) => page.screenshot({ path: join(artifacts, `09-${name}.png`) });

// 客户名单（导入测试） / 客户姓名,手机号,所在城市,住处,备注 / four rows (李娜's phone is wrong),
// encoded in GBK as Excel on Chinese Windows writes it.
const GBK_CSV = Buffer.from(
  'v827p8P7taWjqLW8yOuy4srUo6kKv827p9DVw/ssyta7+rrFLMv51Nqzx8rQLNehtKYssbjXogrVxc6wLDEzODAwMTM4MDAxLLPJtrwsvfW9rcf4tLrO9cK3MbrFLMDPv827pwrN9be8LDEzODAwMTM4MDAyLNbYx+ws0+XW0Mf4veK3xbGuMrrFLArA7sTILDEyMzQ1LLGxvqkss6/R9Mf4M7rFLLrFwuu07cHLCsH10fMsMTM4MDAxMzgwMDQsyc+6oyzG1rar0MLH+DS6xSwK',
  'base64',
);

export default async function ({ page, server }) {
  await page.goto(server.setupUrl);
  await page.getByTestId('setup-form').waitFor();
  await page.getByTestId('setup-username').fill(ADMIN.username);
  await page.getByTestId('setup-display-name').fill(ADMIN.display);
  await page.getByTestId('setup-password').fill(ADMIN.password);
  await page.getByTestId('setup-confirm').fill(ADMIN.password);
  await page.getByTestId('setup-confirm').press('Enter');
  await page.getByTestId('shell').waitFor();

  await page.getByTestId('nav-customers').click();
  await page.getByTestId('customer-import').click();
  await page.getByTestId('page-import').waitFor();

  await page.getByTestId('import-file').setInputFiles({ name: '客户名单.csv', mimeType: 'text/csv', buffer: GBK_CSV });
  await page.getByTestId('import-preview').waitFor();
  const summary = await page.getByTestId('import-encoding').innerText();
  assert(summary.includes('GBK'), `encoding shown: ${summary}`);
  const table = await page.getByTestId('import-mapping').innerText();
  assert(table.includes('张伟') && table.includes('所在城市'), `header and rows shown: ${table}`);
  assert(!table.includes('导入测试'), 'the title line is not a row');
  const column = (h) => page.locator(`[data-testid="import-column"][data-header="${h}"]`);
  assert(await column('手机号').inputValue() === 'phone', 'phone recognised');
  assert(await column('住处').inputValue() === '', '住处 not recognised');
  await column('住处').selectOption('address');
  await shot(page, 'mapping');

  await page.getByTestId('import-start').click();
  await page.getByTestId('import-job').waitFor();
  await page.getByTestId('import-progress').waitFor();
  await page.locator('[data-testid="import-job"][data-status="done"]').waitFor({ timeout: 20000 });
  assert(await page.getByTestId('import-count-created').innerText() === '3', 'three created');
  assert(await page.getByTestId('import-count-rejected').innerText() === '1', 'one rejected');
  const processed = await page.getByTestId('import-processed').innerText();
  assert(processed.includes('4 / 4'), `progress shows processed of total: ${processed}`);
  const rejected = await page.getByTestId('import-rejected').innerText();
  assert(rejected.includes('5') && rejected.includes('手机号'), `rejected row with its reason: ${rejected}`);
  await shot(page, 'done');

  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.getByTestId('import-errors-download').click(),
  ]);
  assert(download.suggestedFilename().endsWith('.xlsx'), `an xlsx: ${download.suggestedFilename()}`);
  const bytes = readFileSync(await download.path());
  assert(bytes[0] === 0x50 && bytes[1] === 0x4b, 'the error report is a zip (xlsx)');

  // The customers are there, with the remapped address.
  await page.getByTestId('import-recent').waitFor();
  await page.goto(`${server.base}/customers`);
  await page.getByTestId('customers-total').waitFor();
  const total = await page.getByTestId('customers-total').innerText();
  assert(total.includes('3'), `three customers: ${total}`);

  // A dry run is labelled as such in 最近的导入 (issue 17.3).
  await page.goto(`${server.base}/customers/import`);
  await page.getByTestId('page-import').waitFor();
  await page.getByTestId('import-file').setInputFiles({ name: '试一下.csv', mimeType: 'text/csv', buffer: GBK_CSV });
  await page.getByTestId('import-preview').waitFor();
  await page.getByTestId('import-dry-run').check();
  await page.getByTestId('import-start').click();
  await page.locator('[data-testid="import-job"][data-status="done"]').waitFor({ timeout: 20000 });
  await page.goto(`${server.base}/customers/import`);
  await page.locator('[data-testid="import-recent-row"][data-dry-run="true"]').waitFor();
  const dryRow = await page.locator('[data-testid="import-recent-row"][data-dry-run="true"]').innerText();
  assert(dryRow.includes('仅检查'), `the dry run is labelled: ${dryRow}`);
  assert((await page.locator('[data-testid="import-recent-row"][data-dry-run="false"]').count()) === 1, 'the real import is not');
}
