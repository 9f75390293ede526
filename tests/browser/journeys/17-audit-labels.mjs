// The audit log reads as sentences, not codes (issue 17.7): after a morning of ordinary work —
// a colleague created, customers created, edited, revealed, released to the pool, claimed back,
// locked, deleted and restored, a pool created — every row of the audit page shows a label
// (its code only underneath), and the action filter offers every action the server writes.
// Probe F20: a deal disbursed and a payment recorded read as money (¥), names instead of ULIDs
// and Beijing times, the raw JSON behind 原始数据; the operator filter picks a person; the
// page does not overflow at 390 px.
import { apiCall, assert, setupAdmin } from '../harness.mjs';
import { FREE_KEYS, SAMPLES } from '../audit-samples.mjs';

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

  // Probe F20: the money of a deal reads as money, names and Beijing times.
  const today = new Date(Date.now() + 8 * 3600e3).toISOString().slice(0, 10);
  const first = new Date(Date.now() + 8 * 3600e3 + 30 * 86400e3).toISOString().slice(0, 10);
  const product = await apiCall(page, 'POST', '/api/v1/products', {
    name: '工薪贷', lender: '某银行', category: 'credit',
    amount_min_fen: 1000000, amount_max_fen: 30000000, term_min_months: 12, term_max_months: 36,
    rate_min_bp: 600, rate_max_bp: 1200, methods: ['annuity'],
    fees: { service_fee: { kind: 'rate', bp: 300 } },
  });
  const buyer = await apiCall(page, 'POST', '/api/v1/customers', { name: '孙八', phone: '13612345678' });
  const deal = await apiCall(page, 'POST', '/api/v1/deals', {
    customer_id: buyer.id, product_id: product.id, amount_fen: 10000000, term_months: 12,
  });
  for (const body of [
    { stage: 'signed', override: true, reason: '合同原件已收' },
    { stage: 'submitted' },
    { stage: 'approved', approved_amount_fen: 10000000 },
    { stage: 'disbursed', disbursed_amount_fen: 10000000, disbursed_on: today, rate_bp: 1200,
      term_months: 12, method: 'annuity', first_repayment_date: first },
  ]) {
    await apiCall(page, 'POST', `/api/v1/deals/${deal.id}/stage`, body);
  }
  await apiCall(page, 'POST', `/api/v1/deals/${deal.id}/payments`, {
    amount_fen: 120000, paid_on: today, method: 'transfer', payer: '孙八', receipt_no: 'SJ-17',
  });
  const logged = await apiCall(page, 'GET', '/api/v1/audit?action=fee.payment');
  const recordedAt = logged.items[0].detail.payment.recorded_at;
  const beijing = new Date(new Date(recordedAt).getTime() + 8 * 3600e3).toISOString().slice(0, 19).replace('T', ' ');
  const ULID = /\b[0-9A-HJKMNP-TV-Z]{26}\b/;

  await page.getByTestId('audit-filter-action').selectOption('fee.payment');
  const pay = page.locator('[data-testid="audit-row"][data-action="fee.payment"]').first();
  await pay.waitFor();
  const payTarget = await pay.getByTestId('audit-target').innerText();
  assert(payTarget.includes('孙八') && payTarget.includes('工薪贷'), `the deal by name: ${payTarget}`);
  const payFacts = await pay.getByTestId('audit-facts').innerText();
  assert(payFacts.includes('¥1,200.00'), `the payment in yuan: ${payFacts}`);
  assert(payFacts.includes('¥1,800.00') && payFacts.includes('待收余额'), `the balance in yuan, labelled: ${payFacts}`);
  assert(payFacts.includes('王老板'), `people by name: ${payFacts}`);
  assert(payFacts.includes('转账'), `the method by its label: ${payFacts}`);
  assert(payFacts.includes(beijing), `the time in Beijing time (${beijing}): ${payFacts}`);
  assert(!/\d{4}-\d\d-\d\dT\d\d:/.test(payFacts), `no raw timestamps: ${payFacts}`);
  assert(!ULID.test(payFacts), `no bare ids: ${payFacts}`);
  assert(!/_fen|recorded_at/.test(payFacts), `no bare keys: ${payFacts}`);
  const raw = pay.getByTestId('audit-raw');
  assert(!(await raw.isVisible()), 'the raw JSON starts folded');
  await pay.getByTestId('audit-detail').locator('summary').click();
  await raw.waitFor({ state: 'visible' });
  assert((await raw.innerText()).includes('"amount_fen": 120000'), 'the raw JSON one click away');

  await page.getByTestId('audit-filter-action').selectOption('deal.stage_changed');
  const moved = page.locator('[data-testid="audit-row"][data-action="deal.stage_changed"]').first();
  await moved.waitFor();
  const movedFacts = await moved.getByTestId('audit-facts').innerText();
  for (const part of ['审批通过', '放款', '¥100,000.00', '12.00%', '12 个月', '等额本息']) {
    assert(movedFacts.includes(part), `the disbursement reads "${part}": ${movedFacts}`);
  }
  assert(!ULID.test(movedFacts) && !/_bp|_fen|term_months/.test(movedFacts), `labelled, no ids: ${movedFacts}`);
  assert((await moved.getByTestId('audit-actor-name').innerText()) === '王老板', 'the actor by name');

  // Every action's detail, as the server writes it, through the page's renderer: each key
  // labelled, amounts in yuan, rates in percent, terms in months, times in Beijing time.
  const problems = await page.evaluate(async ([samples, free]) => {
    const base = document.querySelector('script[type="module"]').src.replace(/app\.js$/, '');
    const { factsOf } = await import(`${base}components/audit-detail.js`);
    const { AUDIT_ACTIONS } = await import(`${base}pages/admin-audit.js`);
    const out = [];
    for (const { action } of AUDIT_ACTIONS) if (!(action in samples)) out.push(`${action}: no sample`);
    const walk = (action, facts) => {
      for (const f of facts) {
        const where = `${action} ${f.path}`;
        if (f.facts) walk(action, f.facts);
        if (f.rows) f.rows.forEach((r) => walk(action, r.filter((x) => x.key)));
        if (f.key && f.label === f.key && !free.includes(f.path)) out.push(`${where}: no label`);
        if (f.text == null) continue;
        const text = String(f.text);
        if (/\[object|\{"/.test(text)) out.push(`${where}: raw object ${text}`);
        if (/_fen$/.test(f.key) && text !== '—' && !text.includes('¥')) out.push(`${where}: not yuan ${text}`);
        if (/_bp$/.test(f.key) && !text.endsWith('%')) out.push(`${where}: not percent ${text}`);
        if (/months$/.test(f.key) && !/\d/.test(text)) out.push(`${where}: not months ${text}`);
        if (/(_at|^at|^as_of)$/.test(f.key) && !/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/.test(text)) out.push(`${where}: not a Beijing time ${text}`);
      }
    };
    for (const [action, detail] of Object.entries(samples)) walk(action, factsOf(action, detail, {}));
    // A key nobody knows (a plugin's entry) still shows, labelled by itself.
    const unknown = factsOf('plugin.future', { shiny_new: 3 }, {});
    if (unknown.length !== 1 || unknown[0].label !== 'shiny_new' || unknown[0].text !== '3') out.push('unknown key dropped');
    return out;
  }, [SAMPLES, FREE_KEYS]);
  assert(problems.length === 0, `every action renders: ${problems.join(' | ')}`);

  // The operator filter: pick a person from the list, not the login name.
  await page.getByTestId('audit-filter-action').selectOption('');
  const people = await page.getByTestId('audit-filter-actor').locator('option').allInnerTexts();
  assert(people.includes('王老板') && people.includes('小吴'), `colleagues by name: ${people}`);
  const wu = await page.getByTestId('audit-filter-actor').locator('option', { hasText: '小吴' }).getAttribute('value');
  await page.getByTestId('audit-filter-actor').selectOption(wu);
  await page.getByTestId('audit-empty').waitFor();
  const boss = await page.getByTestId('audit-filter-actor').locator('option', { hasText: '王老板' }).getAttribute('value');
  await page.getByTestId('audit-filter-actor').selectOption(boss);
  await page.getByTestId('audit-table').waitFor();
  const actors = await page.getByTestId('audit-actor-name').allInnerTexts();
  assert(actors.length > 10 && actors.every((a) => a === '王老板'), `only 王老板's entries: ${actors.length}`);

  // On a phone the audit page (money details open) fits: its table scrolls inside its card.
  await page.getByTestId('audit-filter-actor').selectOption('');
  await page.getByTestId('audit-filter-action').selectOption('fee.payment');
  await pay.waitFor();
  await page.setViewportSize({ width: 390, height: 844 });
  // An entry is a card on a phone: its details are on the screen, not behind a sideways scroll.
  const detail = await pay.getByTestId('audit-detail').boundingBox();
  assert(detail && detail.x + detail.width <= 390, `the entry's details on the screen: ${JSON.stringify(detail)}`);
  await pay.getByTestId('audit-detail').locator('summary').click();
  const fit = await page.evaluate(() => ({ page: document.documentElement.scrollWidth, viewport: window.innerWidth }));
  assert(fit.page <= fit.viewport, `the audit page at 390 px: ${JSON.stringify(fit)}`);
  await page.setViewportSize({ width: 1366, height: 768 });

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
