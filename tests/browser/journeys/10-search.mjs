// Top-bar search: the administrator has customers; typing three characters of a name shows
// the customer with the matched characters highlighted, the keyboard (arrow keys, Enter)
// opens it; pinyin initials and a phone suffix find it too; typing on cancels the search for
// the text before; a query with no match shows the help text. Screenshots go to tests/browser/artifacts/10-*.png.
import { join } from 'node:path';
import { artifacts, assert } from '../harness.mjs';

const ADMIN = { username: 'boss', display: '王老板', password: 'a long enough pass' };
const shot = (page, name) => page.screenshot({ path: join(artifacts, `10-${name}.png`) });

export default async function ({ page, server }) {
  await page.goto(server.setupUrl);
  await page.getByTestId('setup-username').fill(ADMIN.username);
  await page.getByTestId('setup-display-name').fill(ADMIN.display);
  await page.getByTestId('setup-password').fill(ADMIN.password);
  await page.getByTestId('setup-confirm').fill(ADMIN.password);
  await page.getByTestId('setup-confirm').press('Enter');
  await page.getByTestId('shell').waitFor();

  // Customers through the public API (same cookies as the page).
  const login = await page.request.post(`${server.base}/api/v1/auth/login`, {
    data: { username: ADMIN.username, password: ADMIN.password },
  });
  assert(login.ok(), `api login ${login.status()}`);
  const csrf = (await login.json()).csrf_token;
  const people = [
    { name: '欧阳娜娜', phone: '13812345678', city: '成都', company: '成都欧阳科技有限公司' },
    { name: '欧阳修', phone: '13987654321', city: '重庆' },
    { name: '单雄信', phone: '13700001111', city: '西安' },
  ];
  const ids = {};
  for (const p of people) {
    const r = await page.request.post(`${server.base}/api/v1/customers`, {
      data: p, headers: { 'x-csrf-token': csrf },
    });
    assert(r.status() === 201, `create ${p.name}: ${r.status()} ${await r.text()}`);
    ids[p.name] = (await r.json()).id;
  }
  // The API login replaced the page's session: sign in again in the UI.
  await page.goto(`${server.base}/login`);
  await page.getByTestId('login-username').fill(ADMIN.username);
  await page.getByTestId('login-password').fill(ADMIN.password);
  await page.getByTestId('login-password').press('Enter');
  await page.getByTestId('shell').waitFor();

  // "/" focuses the search box; three characters of a name find the customer.
  await page.keyboard.press('/');
  const box = page.getByTestId('global-search-input');
  assert(await box.evaluate((el) => el === document.activeElement), '/ focuses the search box');
  await box.pressSequentially('欧阳娜', { delay: 30 });
  await page.getByTestId('search-hit').first().waitFor();
  const hits = page.getByTestId('search-hit');
  assert((await hits.count()) === 1, `one hit for 欧阳娜, got ${await hits.count()}`);
  const first = await hits.first().innerText();
  assert(first.includes('欧阳娜娜') && first.includes('138****5678'), `hit shows name and masked phone: ${first}`);
  const marked = await hits.first().locator('mark').first().innerText();
  assert(marked === '欧阳娜', `matched characters highlighted: ${marked}`);
  await shot(page, 'results');

  // Two results; the keyboard moves to the second and opens it.
  await box.fill('');
  await box.pressSequentially('欧阳', { delay: 30 });
  await page.waitForFunction(() => document.querySelectorAll('[data-testid="search-hit"]').length === 2);
  await box.press('ArrowDown');
  const active = await page.locator('[data-testid="search-hit"][aria-selected="true"]').innerText();
  const target = active.includes('欧阳修') ? '欧阳修' : '欧阳娜娜';
  await box.press('Enter');
  await page.waitForURL(`**/customers/${ids[target]}`);
  await page.getByText(target).first().waitFor();
  await shot(page, 'opened');

  // Pinyin initials with the surname read right (单 = shan), and a phone suffix.
  await page.keyboard.press('/');
  await box.pressSequentially('sxx', { delay: 30 });
  await page.waitForFunction(() => {
    const hit = document.querySelector('[data-testid="search-hit"]');
    return hit && hit.innerText.includes('单雄信');
  });
  await box.fill('');
  await box.pressSequentially('4321', { delay: 30 });
  await page.waitForFunction(() => {
    const hit = document.querySelector('[data-testid="search-hit"]');
    return hit && hit.innerText.includes('欧阳修');
  });

  // Typing on cancels the search for the text before while it still waits for its answer
  // (on the server it may be waiting for its turn: a cancelled one leaves the queue).
  await box.fill('');
  let heard;
  const asked = new Promise((resolve) => { heard = resolve; });
  const holdFirst = async (route) => {
    if (new URL(route.request().url()).searchParams.get('q') === '单') {
      heard();
      return; // never answered: only the page can end it
    }
    await route.continue();
  };
  await page.route('**/api/v1/search?**', holdFirst);
  const cancelled = page.waitForEvent('requestfailed', {
    predicate: (r) => new URL(r.url()).searchParams.get('q') === '单',
    timeout: 10000,
  });
  await box.pressSequentially('单', { delay: 30 });
  await asked;
  await box.pressSequentially('雄', { delay: 30 });
  const failure = (await cancelled).failure()?.errorText ?? '';
  assert(/ABORTED|cancel/i.test(failure), `the superseded search is cancelled: ${failure}`);
  await page.waitForFunction(() => {
    const hit = document.querySelector('[data-testid="search-hit"]');
    return hit && hit.innerText.includes('单雄信');
  });
  await page.unroute('**/api/v1/search?**', holdFirst);

  // Nothing matches: help instead of a blank panel.
  await box.fill('');
  await box.pressSequentially('查无此人', { delay: 30 });
  await page.getByTestId('global-search-empty').waitFor();
  const help = await page.getByTestId('global-search-empty').innerText();
  assert(help.includes('拼音'), `no-results help: ${help}`);
  await shot(page, 'empty');
  await box.press('Escape');
  assert((await page.getByTestId('global-search-panel').count()) === 0, 'Escape closes the panel');

  // The customer list searches with the same engine (?q= as the top bar's "show all" sends).
  await page.goto(`${server.base}/customers?q=${encodeURIComponent('欧阳')}`);
  await page.waitForFunction(() => document.querySelectorAll('[data-testid="customer-row"]').length === 2);
  assert((await page.getByTestId('filter-q').inputValue()) === '欧阳', 'the list shows the query');
  // Stage counts of the customers the list shows (GET /customers/stage-counts) filter it when clicked.
  await page.getByTestId('facet-stage-lead').waitFor();
  const chip = await page.getByTestId('facet-stage-lead').innerText();
  assert(chip.includes('2'), `stage facet counts both matches: ${chip}`);
  await page.getByTestId('facet-stage-lead').click();
  await page.waitForFunction(() => document.querySelector('[data-testid="filter-stage"]').value === 'lead');
  await page.waitForFunction(() => document.querySelectorAll('[data-testid="customer-row"]').length === 2);
  await page.getByTestId('filter-q').fill('sxx');
  await page.getByTestId('filter-apply').click();
  await page.waitForFunction(() => {
    const rows = document.querySelectorAll('[data-testid="customer-row"]');
    return rows.length === 1 && rows[0].innerText.includes('单雄信');
  });
  await shot(page, 'list');

  // More matches than the top bar shows: "open in the customer list" while the list is open
  // makes the word the list's search (the page stays mounted; the route's ?q= changes).
  const again = await page.request.post(`${server.base}/api/v1/auth/login`, {
    data: { username: ADMIN.username, password: ADMIN.password },
  });
  const csrf2 = (await again.json()).csrf_token;
  for (let i = 0; i < 9; i += 1) {
    const r = await page.request.post(`${server.base}/api/v1/customers`, {
      data: { name: `司马${'甲乙丙丁戊己庚辛壬'[i]}`, phone: `1360000${String(i).padStart(4, '0')}` },
      headers: { 'x-csrf-token': csrf2 },
    });
    assert(r.status() === 201, `create 司马 ${i}: ${r.status()} ${await r.text()}`);
  }
  await page.goto(`${server.base}/login`);
  await page.getByTestId('login-username').fill(ADMIN.username);
  await page.getByTestId('login-password').fill(ADMIN.password);
  await page.getByTestId('login-password').press('Enter');
  await page.getByTestId('shell').waitFor();
  await page.goto(`${server.base}/customers`);
  await page.waitForFunction(() => document.querySelectorAll('[data-testid="customer-row"]').length === 12);
  await page.getByTestId('global-search-input').pressSequentially('司马', { delay: 30 });
  await page.getByTestId('global-search-all').waitFor();
  const allText = await page.getByTestId('global-search-all').innerText();
  assert(!/\d/.test(allText), `no count the list may not show: ${allText}`);
  await page.getByTestId('global-search-all').click();
  await page.waitForFunction(() => document.querySelectorAll('[data-testid="customer-row"]').length === 9);
  assert((await page.getByTestId('filter-q').inputValue()) === '司马', 'the list searches the word');
}
