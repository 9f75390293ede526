// Tables and navigation on a phone (390×844). Every data table the probe named (reports, finance,
// targets, pools, users, the deal list, products, commissions) shows its rows whole: a short
// text such as a name 张贞云, a department 销售一部, a date 2026-12-08 stays on one line (not one
// character per line), every row's buttons (设置目标, 编辑, 删除, 推进) are inside the screen
// without a sideways swipe, and no page scrolls sideways. A manager ticks two customer cards and
// transfers them with the same bulk bar the desktop table has. The navigation is a bottom tab bar
// with text labels and a 更多 sheet listing the rest by name; the top-bar search shows its icon
// and placeholder before it is tapped. The dashboard's trend puts 跟进次数 on an axis of its own,
// and a report's chart names its axis. Screenshots for docs/admin.md with ZHUDAI_DOC_SCREENSHOTS=1.
import { apiCall, assert, docScreenshot, setupAdmin, logInAs } from '../harness.mjs';

const PASSWORD = 'phone pass 2026!';


/** A firm with one of everything the table pages list (the administrator signed in). */
export async function seed(page) {
  const today = new Date(Date.now() + 8 * 3600e3).toISOString().slice(0, 10);
  const dept = await apiCall(page, 'POST', '/api/v1/departments', { name: '销售一部' });
  const users = {};
  for (const [username, display_name, roles] of [['zhang', '张贞云', ['sales']], ['li', '李想', ['sales']],
    ['lead', '周经理', ['manager']]]) {
    users[username] = await apiCall(page, 'POST', '/api/v1/users', {
      username, display_name, roles, password: PASSWORD, department_id: dept.id,
    });
  }
  const product = await apiCall(page, 'POST', '/api/v1/products', {
    name: '工薪贷', lender: '某银行', category: 'credit',
    amount_min_fen: 1000000, amount_max_fen: 30000000, term_min_months: 12, term_max_months: 36,
    rate_min_bp: 600, rate_max_bp: 1200, methods: ['annuity'],
    fees: { service_fee: { kind: 'rate', bp: 300 }, lender_rebate_bp: 100 },
  });
  const customers = [];
  for (const [i, name] of ['金艳', '贾宝玉', '林黛玉'].entries()) {
    const c = await apiCall(page, 'POST', '/api/v1/customers', { name, phone: `1391234560${i}` });
    await apiCall(page, 'POST', `/api/v1/customers/${c.id}/followups`, { kind: 'call', content: '电话沟通' });
    customers.push(c);
  }
  // 金艳's loan is disbursed today: a fee and a rebate receivable, with part of the fee paid.
  const deal = await apiCall(page, 'POST', '/api/v1/deals', {
    customer_id: customers[0].id, product_id: product.id, amount_fen: 5000000, term_months: 12,
  });
  const first = new Date(Date.now() + 8 * 3600e3 + 30 * 86400e3).toISOString().slice(0, 10);
  for (const body of [
    { stage: 'signed', override: true, reason: '合同原件已收' },
    { stage: 'submitted' },
    { stage: 'approved', approved_amount_fen: 5000000 },
    { stage: 'disbursed', disbursed_amount_fen: 5000000, disbursed_on: today, rate_bp: 1200,
      term_months: 12, method: 'annuity', first_repayment_date: first },
  ]) {
    await apiCall(page, 'POST', `/api/v1/deals/${deal.id}/stage`, body);
  }
  await apiCall(page, 'POST', `/api/v1/deals/${deal.id}/payments`, {
    amount_fen: 50000, paid_on: today, method: 'transfer', receipt_no: 'SJ-0001',
  });
  // A second deal still open: the deal list offers to move it on.
  await apiCall(page, 'POST', '/api/v1/deals', {
    customer_id: customers[1].id, product_id: product.id, amount_fen: 2000000, term_months: 24,
  });
  // The firm-wide pool exists from the start; a department's pool beside it.
  await apiCall(page, 'POST', '/api/v1/pools', {
    name: '销售一部公海', department_id: dept.id, members: [], admins: [], settings: { no_followup_days: {} },
  });
  return { today, dept, users, product, customers, deal };
}

/** What does not fit the phone on this page: sideways scroll, a row's button outside the screen
 *  or under 40 px tall, a short text in a table cell broken over several lines. */
async function misfits(page) {
  return page.evaluate(() => {
    const problems = [];
    const vw = window.innerWidth;
    const over = document.documentElement.scrollWidth - vw;
    if (over > 0) problems.push(`the page scrolls sideways by ${over}px`);
    for (const table of document.querySelectorAll('[data-testid="content"] table.table')) {
      if (!table.getClientRects().length) continue;
      for (const b of table.querySelectorAll('tbody button, tbody a.btn')) {
        const r = b.getBoundingClientRect();
        if (r.width > 0 && (r.right > vw + 0.5 || r.left < -0.5)) {
          problems.push(`button "${b.textContent.trim()}" at ${Math.round(r.left)}–${Math.round(r.right)}px`);
        }
        if (r.width > 0 && r.height < 39.5) problems.push(`button "${b.textContent.trim()}" ${Math.round(r.height)}px tall`);
      }
      for (const body of table.tBodies) {
        const walk = document.createTreeWalker(body, NodeFilter.SHOW_TEXT);
        for (let n = walk.nextNode(); n; n = walk.nextNode()) {
          const text = n.textContent.trim();
          if (text.length < 2 || text.length > 10) continue;
          const range = document.createRange();
          range.selectNodeContents(n);
          const lines = new Set([...range.getClientRects()].filter((r) => r.width > 0).map((r) => Math.round(r.top)));
          if (lines.size > 1) problems.push(`"${text}" broken over ${lines.size} lines`);
        }
      }
    }
    return problems;
  });
}

async function fits(page, path, what) {
  await page.goto(`${page.base}${path}`);
  await page.getByTestId('content').waitFor();
  await page.waitForLoadState('networkidle');
  await page.locator('[data-testid="content"] table.table tbody tr').first().waitFor();
  const problems = await misfits(page);
  assert(problems.length === 0, `${what} (${path}) on a phone: ${problems.join('; ')}`);
}

export default async function ({ page, server }) {
  page.base = server.base;
  await setupAdmin(page, server);
  const { users, customers } = await seed(page);
  await page.setViewportSize({ width: 390, height: 844 });

  // The tables, as the administrator.
  await fits(page, '/reports', '跟进活动');
  await page.getByTestId('report-tab-products').click();
  await page.getByTestId('report-table').waitFor();
  await page.waitForLoadState('networkidle');
  assert((await misfits(page)).length === 0, `产品统计 on a phone: ${(await misfits(page)).join('; ')}`);
  await fits(page, '/finance/receivables', '应收');
  await docScreenshot(page, 'phone-table-cards');
  await fits(page, '/finance/rebates', '返佣应收');
  await fits(page, '/finance/payments', '本月回款');
  await fits(page, '/targets', '业绩目标');
  const edit = page.getByTestId('target-edit').first();
  assert(await edit.isVisible(), '设置目标 is visible');
  await fits(page, '/admin/pools', '公海设置');
  await fits(page, '/admin/users', '用户管理');
  const zhang = page.getByTestId(`user-row-zhang`);
  const zhangText = await zhang.innerText();
  assert(zhangText.includes('销售一部') && zhangText.includes('张贞云'), `the user's card names them and their department: ${zhangText}`);
  await fits(page, '/deals?view=list', '业务单');
  await fits(page, '/admin/products', '产品');
  await fits(page, '/commissions', '提成');
  // A row's button works from its card: 设置目标 opens the dialog.
  await page.goto(`${server.base}/targets`);
  await page.getByTestId('target-edit').first().click();
  await page.getByTestId('target-dialog').waitFor();
  await page.keyboard.press('Escape');

  // Charts: the trend's follow-ups have their own axis; a report's value axis says what it counts.
  const axes = async (testid) => page.evaluate(async (id) => {
    const src = document.querySelector('script[type="module"]').src;
    const echarts = await import(src.replace(/app\.js$/, 'vendor/echarts/echarts.esm.min.js'));
    const el = document.querySelector(`[data-testid="${id}"]`);
    const chart = el && echarts.getInstanceByDom(el);
    if (!chart) return null;
    const o = chart.getOption();
    return { y: o.yAxis.map((a) => a.name || ''), x: o.xAxis.map((a) => a.name || ''),
      series: o.series.map((s) => s.yAxisIndex || 0) };
  }, testid);
  await page.goto(`${server.base}/`);
  await page.getByTestId('trends-chart').waitFor();
  await page.waitForFunction(() => document.querySelector('[data-testid="trends-chart"] svg'));
  const trend = await axes('trends-chart');
  assert(trend && trend.y.length === 2 && trend.series[1] === 1 && trend.y.every((n) => n !== ''),
    `新线索 and 跟进次数 on two named axes: ${JSON.stringify(trend)}`);
  await page.goto(`${server.base}/reports`);
  await page.waitForFunction(() => document.querySelector('[data-testid="report-chart"] svg'));
  const report = await axes('report-chart');
  assert(report && report.x[0] !== '', `the report's value axis is named: ${JSON.stringify(report)}`);

  // The navigation: labelled tabs at the bottom, the rest in 更多 by name.
  const tabs = await page.getByTestId('tabbar').locator('a, button').evaluateAll((els) => els.map((e) => {
    const r = e.getBoundingClientRect();
    return { text: e.innerText.trim(), bottom: r.bottom, right: r.right, height: r.height };
  }));
  assert(tabs.length >= 4 && tabs.length <= 6, `4–5 tabs and 更多: ${JSON.stringify(tabs)}`);
  for (const tab of tabs) {
    assert(tab.text !== '' && tab.right <= 390 && tab.bottom <= 844 && tab.height >= 40, `a labelled tab in reach: ${JSON.stringify(tab)}`);
  }
  assert(!(await page.getByTestId('nav').isVisible()), 'no unlabelled icon rail beside the page');
  await page.getByTestId('nav-more').click();
  await page.getByTestId('nav').waitFor();
  await docScreenshot(page, 'phone-more-sheet');
  const unlabelled = await page.locator('nav a.sidenav-item').evaluateAll((as) => as
    .filter((a) => { const s = a.querySelector('span'); return !s || s.getBoundingClientRect().width < 16; })
    .map((a) => a.getAttribute('href')));
  assert(unlabelled.length === 0, `every page in 更多 has its name: ${unlabelled.join(', ')}`);
  await page.getByTestId('nav-admin-users').click();
  await page.getByTestId('users-table').waitFor();
  assert(!(await page.getByTestId('nav').isVisible()), '更多 closes once a page is picked');
  const search = await page.evaluate(() => {
    const input = document.querySelector('.global-search input');
    const icon = document.querySelector('.global-search svg');
    const ri = input.getBoundingClientRect();
    const rs = icon && icon.getBoundingClientRect();
    return { width: ri.width, placeholder: input.placeholder, icon: rs ? rs.width : 0 };
  });
  assert(search.width >= 100 && search.placeholder !== '' && search.icon > 0,
    `the search shows its icon and placeholder untapped: ${JSON.stringify(search)}`);

  // A table kept as a table (the funnel), wider than the phone in English: it scrolls inside its
  // frame, and the stage column stays in view while the numbers scroll under it.
  await page.evaluate(() => localStorage.setItem('zhudai.locale', 'en'));
  await page.goto(`${server.base}/reports/funnel`);
  await page.getByTestId('funnel-table').locator('tbody tr').first().waitFor();
  await page.waitForLoadState('networkidle');
  const funnel = await page.evaluate(() => {
    const table = document.querySelector('[data-testid="funnel-table"]');
    const frame = table.closest('.table-wrap');
    frame.scrollLeft = frame.scrollWidth;
    const cell = table.tBodies[0].rows[0].cells[0];
    const lines = [...table.querySelectorAll('td')].filter((td) => td.getBoundingClientRect().height > 2 * parseFloat(getComputedStyle(td).lineHeight) + 24);
    return { scrolled: frame.scrollLeft, frameLeft: frame.getBoundingClientRect().left, cellLeft: cell.getBoundingClientRect().left,
      wrapped: lines.map((td) => td.textContent.trim()) };
  });
  assert(funnel.scrolled === 0 || funnel.cellLeft >= funnel.frameLeft - 0.5,
    `the stage column stays in view when the funnel scrolls: ${JSON.stringify(funnel)}`);
  assert(funnel.wrapped.length === 0, `no funnel cell wraps: ${funnel.wrapped.join(', ')}`);
  await page.evaluate(() => localStorage.setItem('zhudai.locale', 'zh-CN'));

  // F12: a manager ticks two customer cards and transfers them to 李想.
  await apiCall(page, 'POST', '/api/v1/customers/bulk', {
    ids: customers.map((c) => c.id), action: 'transfer', to_user: users.lead.id,
  });
  await logInAs(page, server, 'lead', PASSWORD);
  await page.goto(`${server.base}/customers`);
  await page.getByTestId('customer-cards').waitFor();
  const cards = page.getByTestId('customer-card');
  const check = await cards.first().locator('.card-check').boundingBox();
  assert(check && check.width >= 40 && check.height >= 40, `a thumb-sized checkbox: ${JSON.stringify(check)}`);
  await cards.filter({ hasText: '金艳' }).getByTestId('customer-card-check').click();
  await cards.filter({ hasText: '林黛玉' }).getByTestId('customer-card-check').click();
  assert(new URL(page.url()).pathname === '/customers', 'ticking a card does not open the customer');
  await page.getByTestId('bulk-bar').waitFor();
  assert((await page.getByTestId('bulk-count').innerText()).includes('2'), 'two selected');
  await docScreenshot(page, 'phone-customer-select');
  await page.getByTestId('bulk-action').selectOption('transfer');
  await page.getByTestId('bulk-to').selectOption(users.li.id);
  await page.getByTestId('bulk-apply').click();
  await page.getByTestId('bulk-confirm').getByTestId('confirm-ok').click();
  await page.getByTestId('bulk-confirm').waitFor({ state: 'detached' });
  // The toast saying it is done shows above the tab bar, not under it.
  const toast = await page.getByTestId('toast').first().boundingBox();
  const bar = await page.getByTestId('tabbar').boundingBox();
  assert(toast && bar && toast.y + toast.height <= bar.y, `the toast clears the tab bar: ${JSON.stringify({ toast, bar })}`);
  await page.waitForFunction(() => !document.querySelector('[data-testid="bulk-bar"]'));
  for (const [c, owner] of [[customers[0], users.li.id], [customers[1], users.lead.id], [customers[2], users.li.id]]) {
    const now = await apiCall(page, 'GET', `/api/v1/customers/${c.id}`);
    assert(now.owner_id === owner, `${c.name} belongs to ${owner}: ${now.owner_id}`);
  }
  const over = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert(over <= 0, `the customer cards fit: +${over}px`);

  // Between a phone and a laptop (a small tablet, a phone on its side: 601–720 px) the
  // navigation is a rail; each icon keeps its name under it (it was an icon alone, its name
  // only in a tooltip a touch screen never shows).
  await page.setViewportSize({ width: 700, height: 900 });
  await page.getByTestId('nav-customers').waitFor();
  const rail = await page.locator('.sidenav .sidenav-item').evaluateAll((els) => els.map((a) => {
    const label = a.querySelector('span');
    const box = label ? label.getBoundingClientRect() : null;
    return { text: label ? label.textContent.trim() : '', width: box ? box.width : 0, right: box ? box.right : 0,
      size: label ? parseFloat(getComputedStyle(label).fontSize) : 0 };
  }));
  assert(rail.length >= 5, `the rail lists the pages: ${rail.length}`);
  const rail_width = await page.locator('.sidenav').evaluate((n) => n.getBoundingClientRect().width);
  for (const item of rail) {
    assert(item.text && item.width >= 20 && item.size >= 11 && item.right <= rail_width,
      `a named icon on the rail: ${JSON.stringify(item)} (rail ${rail_width}px)`);
  }
  const wide = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert(wide <= 0, `the page fits at 700 px: +${wide}px`);
}
