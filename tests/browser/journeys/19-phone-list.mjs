// The daily pages on a phone (390×844, issue 17.2): the customer list as cards (name, stage,
// masked phone, owner, next follow-up) with its filters in a drawer (筛选 opens it, apply and
// clear work), the top-bar search spread over the bar, the customer page's actions in a 更多 ▾
// menu, the follow-up form usable — and no sideways scroll on any of them. Screenshots of each go
// to docs/screenshots/ (with ZHUDAI_DOC_SCREENSHOTS=1).
import { apiCall, assert, docScreenshot, setupAdmin } from '../harness.mjs';

const PASSWORD = 'sales pass 2026!';

async function noSidewaysScroll(page, what) {
  const w = await page.evaluate(() => ({ page: document.documentElement.scrollWidth, viewport: window.innerWidth }));
  assert(w.page <= w.viewport, `${what} at 390 px: ${JSON.stringify(w)}`);
}

export default async function ({ page, server }) {
  await setupAdmin(page, server);
  await apiCall(page, 'POST', '/api/v1/users', { username: 'wu', display_name: '小吴', roles: ['sales'], password: PASSWORD });

  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(`${server.base}/login`);
  await page.getByTestId('login-username').fill('wu');
  await page.getByTestId('login-password').fill(PASSWORD);
  await page.getByTestId('login-password').press('Enter');
  await page.getByTestId('shell').waitFor();
  const soon = new Date(Date.now() + 2 * 24 * 3600 * 1000).toISOString();
  const zhao = await apiCall(page, 'POST', '/api/v1/customers', {
    name: '赵六', phone: '13912345678', stage: 'contacted', company: '成都某某科技有限公司',
  });
  await apiCall(page, 'PATCH', `/api/v1/customers/${zhao.id}`, { next_followup_at: soon });
  await apiCall(page, 'POST', '/api/v1/customers', { name: '欧阳娜娜', phone: '13800001111', stage: 'lead' });
  await apiCall(page, 'POST', '/api/v1/customers', { name: '钱七', phone: '13700002222', stage: 'qualified' });

  // The list: cards, not a table; each card says who, what stage, the masked number, whose, when next.
  await page.goto(`${server.base}/customers`);
  await page.getByTestId('customer-cards').waitFor();
  assert((await page.getByTestId('customers-table').count()) === 0, 'no table on a phone');
  assert((await page.getByTestId('customer-card').count()) === 3, 'three cards');
  const card = page.getByTestId('customer-card').filter({ hasText: '赵六' });
  const text = await card.innerText();
  assert(text.includes('139****5678'), `masked phone on the card: ${text}`);
  assert(text.includes('小吴'), `the owner on the card: ${text}`);
  assert(text.includes('已联系') || text.includes('Contacted'), `the stage on the card: ${text}`);
  assert((await card.getByTestId('customer-card-next').innerText()).trim() !== '—', 'the next follow-up on the card');
  assert((await page.getByTestId('customers-filters').count()) === 0, 'the filters wait in the drawer');
  await noSidewaysScroll(page, 'customer list');
  await docScreenshot(page, 'phone-customer-list');

  // The drawer: 筛选 opens it; a stage chosen there applies on 筛选 (apply), not before.
  await page.getByTestId('filter-open').click();
  await page.getByTestId('customers-filters').waitFor();
  await noSidewaysScroll(page, 'filter drawer');
  await docScreenshot(page, 'phone-filter-drawer');
  await page.getByTestId('filter-stage').selectOption('qualified');
  assert((await page.getByTestId('customer-card').count()) === 3, 'nothing applied before 筛选');
  await page.getByTestId('filter-apply').click();
  await page.getByTestId('customers-filters').waitFor({ state: 'detached' });
  await page.waitForFunction(() => document.querySelectorAll('[data-testid="customer-card"]').length === 1);
  assert((await page.getByTestId('customer-card').innerText()).includes('钱七'), 'the stage filter applied');
  assert((await page.getByTestId('filter-open').innerText()).includes('1'), 'the button counts the active filter');
  // Clear, from inside the drawer.
  await page.getByTestId('filter-open').click();
  await page.getByTestId('filter-clear').click();
  await page.waitForFunction(() => document.querySelectorAll('[data-testid="customer-card"]').length === 3);
  assert((await page.getByTestId('customers-filters').count()) === 0, 'the drawer closes on clear');

  // The top-bar search on a phone: tapped, it spreads over the bar; results fit the screen.
  await page.getByTestId('global-search-input').click();
  await page.getByTestId('global-search-input').fill('赵六');
  await page.getByTestId('search-hit').first().waitFor();
  const searchBox = await page.getByTestId('global-search-input').boundingBox();
  assert(searchBox && searchBox.width >= 250, `the search box spreads over the bar: ${JSON.stringify(searchBox)}`);
  await noSidewaysScroll(page, 'search results');
  await docScreenshot(page, 'phone-search');
  await page.getByTestId('global-search-input').press('Escape');

  // The customer page: the actions in 更多 ▾, the follow-up form usable.
  await card.getByTestId('customer-card-link').click();
  await page.getByTestId('page-customer-detail').waitFor();
  assert(!(await page.getByTestId('customer-edit').isVisible()), 'edit waits in the menu');
  await noSidewaysScroll(page, 'customer page');
  await docScreenshot(page, 'phone-customer-detail');
  await page.getByTestId('customer-actions-more').click();
  await page.getByTestId('customer-edit').waitFor({ state: 'visible' });
  await noSidewaysScroll(page, 'customer page with the menu open');
  await docScreenshot(page, 'phone-customer-actions');
  // A dialog opened from the menu shows although the menu closes behind it.
  await page.getByTestId('customer-edit').click();
  await page.getByTestId('customer-dialog').waitFor({ state: 'visible' });
  await page.getByTestId('customer-dialog-close').click();
  await page.getByTestId('customer-dialog').waitFor({ state: 'detached' });

  const form = page.getByTestId('followup-form');
  await form.scrollIntoViewIfNeeded();
  await page.getByTestId('followup-content').fill('电话沟通，客户下周带资料来访');
  await page.getByTestId('followup-outcome').fill('有意向');
  await noSidewaysScroll(page, 'follow-up form');
  const box = await form.boundingBox();
  assert(box && box.x >= 0 && box.x + box.width <= 390, `the form fits the screen: ${JSON.stringify(box)}`);
  await docScreenshot(page, 'phone-followup-form');
  await page.getByTestId('followup-submit').click();
  await page.getByTestId('timeline-followup').filter({ hasText: '客户下周带资料来访' }).first().waitFor();

  // In English (longer labels) the list, its drawer and the customer page still fit.
  await page.getByTestId('locale-switch').click();
  await page.getByTestId('locale-en').click();
  await page.waitForFunction(() => document.documentElement.lang === 'en');
  await noSidewaysScroll(page, 'customer page in English');
  await page.goto(`${server.base}/customers`);
  await page.getByTestId('customer-cards').waitFor();
  await noSidewaysScroll(page, 'customer list in English');
  await page.getByTestId('filter-open').click();
  await page.getByTestId('customers-filters').waitFor();
  await noSidewaysScroll(page, 'filter drawer in English');
  await page.getByTestId('filter-close').click();
  await page.getByTestId('customers-filters').waitFor({ state: 'detached' });
}
