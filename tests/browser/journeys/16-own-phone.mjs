// A salesperson on a phone (390×844) reveals the number of their own customer with one tap of
// 查看 and gets a tel: link (the built-in 业务员 role: phone.view_own, 200 a day); the ID number
// stays masked and refuses; an unrated customer shows a dash, not five grey stars; the stage
// changes in one step from the header and the timeline shows it at once.
import { join } from 'node:path';
import { apiCall, artifacts, assert, setupAdmin } from '../harness.mjs';

const PASSWORD = 'sales pass 2026!';

export default async function ({ page, server }) {
  await setupAdmin(page, server);
  await apiCall(page, 'POST', '/api/v1/users', { username: 'wu', display_name: '小吴', roles: ['sales'], password: PASSWORD });

  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(`${server.base}/login`);
  await page.getByTestId('login-username').fill('wu');
  await page.getByTestId('login-password').fill(PASSWORD);
  await page.getByTestId('login-password').press('Enter');
  await page.getByTestId('shell').waitFor();
  const c = await apiCall(page, 'POST', '/api/v1/customers', {
    name: '赵六', phone: '13912345678', id_number: '11010519491231002X',
  });

  await page.goto(`${server.base}/customers/${c.id}`);
  await page.getByTestId('page-customer-detail').waitFor();
  // Unrated shows a dash, not five grey stars (issue 17.9).
  const stars = await page.locator('[data-stars]').first().innerText();
  assert(stars.trim() === '—', `unrated: a dash, got ${JSON.stringify(stars)}`);
  const masked = (await page.getByTestId('customer-phone-value').innerText()).trim();
  assert(masked.includes('****'), `masked before the tap: ${masked}`);
  await page.getByTestId('customer-phone-reveal').click();
  const link = page.locator('[data-testid="customer-phone-value"][href]');
  await link.waitFor();
  assert((await link.getAttribute('href')) === 'tel:13912345678', `a tel: link: ${await link.getAttribute('href')}`);
  assert((await link.innerText()).includes('13912345678'), 'the full number is shown');
  const remaining = await page.getByTestId('customer-phone').innerText();
  assert(remaining.includes('199'), `199 reveals left today: ${remaining}`);

  await page.getByTestId('customer-id-number-reveal').click();
  await page.getByTestId('customer-id-number-error').waitFor();
  const idValue = (await page.getByTestId('customer-id-number-value').innerText()).trim();
  assert(idValue.includes('*'), `the ID number stays masked: ${idValue}`);

  // The stage in one step from the header; the timeline shows the change without a reload.
  await page.getByTestId('customer-stage').selectOption('contacted');
  await page.locator('[data-testid="timeline-event"][data-kind="stage_changed"]').waitFor({ timeout: 5000 });
  await page.reload();
  await page.getByTestId('page-customer-detail').waitFor();
  assert((await page.getByTestId('customer-stage').inputValue()) === 'contacted', 'the stage is saved');

  // The quick change carries the version the page shows. A follow-up logged meanwhile (from
  // another device) leaves the stage as shown: the change goes through.
  await apiCall(page, 'POST', `/api/v1/customers/${c.id}/followups`, { kind: 'call', content: '电话沟通' });
  await page.getByTestId('customer-stage').selectOption('qualified');
  await page.locator('[data-testid="customer-stage"][data-stage="qualified"]').waitFor();
  assert((await apiCall(page, 'GET', `/api/v1/customers/${c.id}`)).stage === 'qualified', 'saved over a follow-up');
  // Someone moves the stage meanwhile: the change is refused with what it is now, not saved over.
  await apiCall(page, 'PATCH', `/api/v1/customers/${c.id}`, { stage: 'invited' });
  await page.getByTestId('customer-stage').selectOption('lost');
  const refused = page.getByTestId('toast').filter({ hasText: '你的修改未保存' });
  await refused.waitFor();
  const said = await refused.innerText();
  assert(said.includes('已邀约'), `the refusal names the stage it is now: ${said}`);
  await page.locator('[data-testid="customer-stage"][data-stage="invited"]').waitFor();
  assert((await apiCall(page, 'GET', `/api/v1/customers/${c.id}`)).stage === 'invited', 'the other change stands');

  // A customer id that is not theirs (absent or another's: the server answers both 404) says
  // "not found or outside your scope", not "page not found".
  await page.goto(`${server.base}/customers/01JZZZZZZZZZZZZZZZZZZZZZZZ`);
  await page.getByTestId('page-record-not-found').waitFor();
  assert((await page.getByTestId('page-not-found').count()) === 0, 'not the unknown-address page');
  await page.goto(`${server.base}/customers/${c.id}`);
  await page.getByTestId('page-customer-detail').waitFor();
  // The customer list: no 下属负责的 tab for someone who sees only their own customers, and the
  // built-in tabs follow the language (issue 17.9).
  await page.goto(`${server.base}/customers`);
  await page.getByTestId('view-tab-mine').waitFor();
  assert((await page.getByTestId('view-tab-team').count()) === 0, 'no team tab for a salesperson');
  await page.getByTestId('locale-switch').click();
  await page.getByTestId('locale-en').click();
  await page.waitForFunction(() => document.documentElement.lang === 'en');
  const mine = (await page.getByTestId('view-tab-mine').innerText()).trim();
  assert(mine === 'Mine', `the built-in view in English: ${mine}`);
  await page.goto(`${server.base}/customers/${c.id}`);
  await page.getByTestId('page-customer-detail').waitFor();
  // The dashboard shows what comes tomorrow beside today (issue 17.4).
  const tomorrow = new Date(Date.now() + 24 * 3600 * 1000).toISOString();
  await apiCall(page, 'PATCH', `/api/v1/customers/${c.id}`, { next_followup_at: tomorrow });
  await page.goto(`${server.base}/`);
  await page.getByTestId('todos-tomorrow-row').waitFor();
  assert((await page.getByTestId('todos-tomorrow-row').innerText()).includes('赵六'), 'tomorrow\'s follow-up on the dashboard');
  assert((await page.getByTestId('todos-week-count').innerText()).trim() === '0', 'nothing later this week');
  assert((await page.getByTestId('team-today').count()) === 0, 'no team card for a salesperson');
  await page.goto(`${server.base}/customers/${c.id}`);
  await page.getByTestId('page-customer-detail').waitFor();
  // 备注 has a place (issue 17.3): written in the edit form, shown on the page, lines kept.
  // On a phone the header's actions sit in the 更多 ▾ menu (issue 17.2).
  await page.getByTestId('customer-actions-more').click();
  await page.getByTestId('customer-edit').click();
  await page.getByTestId('customer-dialog').waitFor();
  await page.getByTestId('customer-form-notes').fill('周末方便联系\n老客户介绍');
  await page.getByTestId('customer-dialog-submit').click();
  await page.getByTestId('customer-dialog').waitFor({ state: 'detached' });
  const notes = await page.getByTestId('customer-notes').innerText();
  assert(notes.includes('周末方便联系') && notes.includes('老客户介绍'), 'notes shown: ' + notes);
  const widths = await page.evaluate(() => ({ page: document.documentElement.scrollWidth, viewport: window.innerWidth }));
  await page.screenshot({ path: join(artifacts, '16-own-phone.png'), fullPage: false });
  // The customer page on a phone, in English (the longer labels): no sideways scroll; the
  // header's actions wrap under the title (issue 17.2).
  assert(widths.page <= widths.viewport, `no sideways scroll at 390 px: ${JSON.stringify(widths)}`);
}
