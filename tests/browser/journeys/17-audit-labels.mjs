// The audit log reads as sentences, not codes (issue 17.7): after a morning of ordinary work —
// a colleague created, customers created, edited, revealed, released to the pool, claimed back,
// locked, deleted and restored, a pool created — every row of the audit page shows a label
// (its code only underneath), and the action filter offers every action the server writes.
import { apiCall, assert, setupAdmin } from '../harness.mjs';

export default async function ({ page, server }) {
  await setupAdmin(page, server);

  await apiCall(page, 'POST', '/api/v1/users', { username: 'wu', display_name: '小吴', roles: ['sales'], password: 'sales pass 2026!' });
  const pools = await apiCall(page, 'GET', '/api/v1/pools');
  const pool = pools[0].id;
  const c = await apiCall(page, 'POST', '/api/v1/customers', { name: '赵六', phone: '13912345678' });
  await apiCall(page, 'PATCH', `/api/v1/customers/${c.id}`, { city: '成都' });
  await apiCall(page, 'POST', `/api/v1/customers/${c.id}/unmask`, { field: 'phone' });
  await apiCall(page, 'POST', `/api/v1/customers/${c.id}/lock`, {});
  await apiCall(page, 'POST', `/api/v1/customers/${c.id}/unlock`, {});
  await apiCall(page, 'POST', `/api/v1/customers/${c.id}/release`, { reason: '暂无需求', pool_id: pool });
  const d = await apiCall(page, 'POST', '/api/v1/customers', { name: '钱七', phone: '13712345678' });
  await apiCall(page, 'DELETE', `/api/v1/customers/${d.id}`);
  await apiCall(page, 'POST', `/api/v1/customers/${d.id}/restore`, {});

  // The dashboard's team card (issue 17.4): the admin's scope is the firm, so 小吴 is a row.
  await page.goto(`${server.base}/`);
  await page.getByTestId('team-table').waitFor();
  assert((await page.getByTestId('team-row').count()) >= 1, 'colleagues in the team card');
  // On a phone the team table fits its card: no scrolling inside it either.
  await page.setViewportSize({ width: 390, height: 844 });
  const inner = await page.getByTestId('team-table').evaluate((t) => t.closest('.table-wrap').scrollWidth - t.closest('.table-wrap').clientWidth);
  assert(inner <= 0, `the team table fits at 390 px (${inner} px too wide)`);
  await page.setViewportSize({ width: 1366, height: 768 });
  await page.goto(`${server.base}/admin/audit`);
  await page.getByTestId('audit-table').waitFor();
  const rows = await page.getByTestId('audit-row').evaluateAll((trs) => trs.map((tr) => ({
    action: tr.dataset.action,
    label: tr.querySelector('[data-action]')?.textContent.trim(),
  })));
  assert(rows.length >= 10, `a morning of work in the log: ${rows.length} rows`);
  const bare = rows.filter((r) => !r.label || r.label === r.action);
  assert(bare.length === 0, `every action has a label: ${JSON.stringify(bare)}`);
  const actions = new Set(rows.map((r) => r.action));
  for (const a of ['customer.created', 'customer.updated', 'customer.revealed', 'customer.locked', 'customer.released', 'customer.deleted', 'customer.restored', 'user.created']) {
    assert(actions.has(a), `${a} is in the log: ${[...actions]}`);
  }
  const options = await page.getByTestId('audit-filter-action').locator('option').allInnerTexts();
  assert(options.length > 50, `the filter offers every action: ${options.length}`);
  assert(!options.some((o) => /^[a-z_]+\.[a-z_]+$/.test(o.trim())), 'no bare code in the filter');

  // On a phone (issue 17.2): the pool page with a waiting customer (its table scrolls inside its
  // card, the page does not) and the dashboard with the team card, no sideways scroll.
  await page.setViewportSize({ width: 390, height: 844 });
  for (const path of ['/pools', '/']) {
    await page.goto(`${server.base}${path}`);
    await page.waitForLoadState('networkidle');
    const w = await page.evaluate(() => ({ page: document.documentElement.scrollWidth, viewport: window.innerWidth }));
    assert(w.page <= w.viewport, `${path} at 390 px: ${JSON.stringify(w)}`);
  }
}
