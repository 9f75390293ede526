// The recycle bin is paged: 52 customers deleted at once → the bin tab shows the newest 50
// with "已显示 50 / 52" and 加载更多 → one click brings the other 2 and "已全部显示" → restoring
// one reloads the first page with the new total → with the rest erased through the API, the
// empty state. Screenshots: tests/browser/artifacts/14-*.png.
import { apiCall, artifacts, assert, setupAdmin } from '../harness.mjs';
import { join } from 'node:path';

const shot = (page, name) => page.screenshot({ path: join(artifacts, `14-${name}.png`) });

const binRows = (page, n) =>
  page.waitForFunction((k) => document.querySelectorAll('[data-testid="bin-row"]').length === k, n);

export default async function ({ page, server }) {
  await setupAdmin(page, server);
  const ids = [];
  for (let i = 0; i < 52; i++) {
    const c = await apiCall(page, 'POST', '/api/v1/customers', { name: `回收${i}`, phone: `1390000${String(1000 + i)}` });
    ids.push(c.id);
  }
  await apiCall(page, 'POST', '/api/v1/customers/bulk', { ids, action: 'delete' });

  await page.goto(`${server.base}/customers`);
  await page.getByTestId('view-tab-recycle-bin').click();
  await page.getByTestId('bin-table').waitFor();
  await binRows(page, 50);
  let shown = await page.getByTestId('bin-shown').innerText();
  assert(shown.includes('50') && shown.includes('52'), `first page counted: ${shown}`);
  await shot(page, 'first-page');
  await page.getByTestId('bin-more').click();
  await binRows(page, 52);
  await page.getByTestId('bin-end').waitFor();
  assert(await page.getByTestId('bin-more').count() === 0, 'no more to load');
  const names = await page.locator('[data-testid="bin-row"] td:first-child').allInnerTexts();
  assert(new Set(names).size === 52, `each entry once: ${names.length} rows, ${new Set(names).size} names`);

  // Restoring reloads the first page, counted again.
  await page.getByTestId('bin-restore').first().click();
  await page.getByTestId('toast').first().waitFor();
  await binRows(page, 50);
  await page.waitForFunction(() => document.querySelector('[data-testid="bin-shown"]')?.innerText.includes('51'));
  await shot(page, 'after-restore');

  // Everything else erased: the empty state.
  const bin = await apiCall(page, 'GET', '/api/v1/customers/recycle-bin?limit=200');
  assert(bin.total === 51 && bin.items.length === 51 && bin.next_cursor === null, `the API agrees: ${bin.total}`);
  for (const r of bin.items) {
    await apiCall(page, 'POST', `/api/v1/customers/${r.customer.id}/erase`, { request_ref: 'PI-14' });
  }
  await page.reload();
  await page.getByTestId('view-tab-recycle-bin').click();
  await page.getByTestId('bin-empty').waitFor();
  await shot(page, 'empty');
}
