// Customers: first-run setup → the administrator creates a customer (demand 30.5 万元 shown back
// exactly) → a second customer with the same phone gets the duplicate warning as soon as the
// phone field loses focus (check-duplicate) and the 409 message on submit → open the first
// customer, reveal the phone, log a follow-up with the next contact later today → the
// dashboard's 今日待办 lists the customer (and the top-bar badge counts it) → the row opens the
// customer. Screenshots go to tests/browser/artifacts/03-*.png.
import { join } from 'node:path';
import { apiCall, artifacts, assert } from '../harness.mjs';

const ADMIN = { username: 'boss', display: '王老板', password: 'a long enough pass' };
const shot = (page, name) => page.screenshot({ path: join(artifacts, `03-${name}.png`) });

/** Later today in Beijing time as a datetime-local value (at most 23:59). */
function laterTodayInShanghai() {
  const fmt = (d) => new Intl.DateTimeFormat('sv-SE', {
    timeZone: 'Asia/Shanghai', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23',
  }).format(d).replace(' ', 'T');
  const now = new Date();
  const later = fmt(new Date(now.getTime() + 30 * 60 * 1000));
  const today = fmt(now).slice(0, 10);
  return later.slice(0, 10) === today ? later : `${today}T23:59`;
}

export default async function ({ page, server }) {
  await page.goto(server.setupUrl);
  await page.getByTestId('setup-form').waitFor();
  await page.getByTestId('setup-username').fill(ADMIN.username);
  await page.getByTestId('setup-display-name').fill(ADMIN.display);
  await page.getByTestId('setup-password').fill(ADMIN.password);
  await page.getByTestId('setup-confirm').fill(ADMIN.password);
  await page.getByTestId('setup-confirm').press('Enter');
  await page.getByTestId('shell').waitFor();

  // The dashboard starts with nothing to do.
  await page.getByTestId('todos-empty').waitFor();

  // An empty customer list invites to create the first one.
  await page.getByTestId('nav-customers').click();
  await page.getByTestId('customers-empty').waitFor();
  assert((await page.getByTestId('nav').innerText()).includes('客户'), 'nav entry 客户');
  await shot(page, 'empty-list');
  await page.getByTestId('customers-empty-create').click();
  await page.getByTestId('customer-dialog').waitFor();

  // Required fields are checked in the browser first.
  await page.getByTestId('customer-dialog-submit').click();
  await page.getByTestId('customer-form-name-error').waitFor();
  await page.getByTestId('customer-form-phone-error').waitFor();

  await page.getByTestId('customer-form-name').fill('李建国');
  await page.getByTestId('customer-form-phone').fill('13800138000');
  await page.getByTestId('customer-form-phone').press('Tab');
  await page.getByTestId('customer-form-city').fill('成都');
  await page.getByTestId('customer-form-channel').fill('转介绍');
  await page.getByTestId('customer-form-grade').selectOption('B');
  await page.getByTestId('customer-form-stars').selectOption('3');
  await page.getByTestId('customer-form-tags').fill('有房，公积金');
  await page.getByTestId('customer-form-amount').fill('30.5');
  await page.getByTestId('customer-form-term').fill('36');
  await page.getByTestId('customer-form-purpose').fill('经营周转');
  assert(await page.getByTestId('duplicate-warning').count() === 0, 'a new phone is no duplicate');
  await shot(page, 'create-dialog');
  await page.getByTestId('customer-dialog-submit').click();

  // Created: the detail page shows it, the amount exactly as entered.
  await page.getByTestId('page-customer-detail').waitFor();
  assert((await page.getByTestId('customer-name').innerText()) === '李建国', 'detail shows the name');
  const amount = await page.getByTestId('customer-amount').innerText();
  assert(amount.includes('30.5') && amount.includes('万元'), 'amount in 万元: ' + amount);
  assert((await page.getByTestId('customer-phone-value').innerText()).includes('****'), 'phone masked');
  const detailUrl = page.url();

  // The list shows one customer.
  await page.getByTestId('back-to-customers').click();
  await page.getByTestId('customers-table').waitFor();
  assert(await page.getByTestId('customer-row').count() === 1, 'one row');
  assert((await page.getByTestId('customers-total').innerText()).includes('1'), 'total 1');
  const row = await page.getByTestId('customer-row').innerText();
  assert(row.includes('已') || row.includes('新线索'), 'stage in Chinese: ' + row);
  await shot(page, 'list');

  // Same phone again: warned on blur, refused on submit.
  await page.getByTestId('customer-create').click();
  await page.getByTestId('customer-dialog').waitFor();
  await page.getByTestId('customer-form-name').fill('李建军');
  await page.getByTestId('customer-form-phone').fill('138 0013 8000');
  await page.getByTestId('customer-form-phone').press('Tab');
  await page.getByTestId('duplicate-warning').waitFor();
  const warning = await page.getByTestId('duplicate-warning').innerText();
  assert(warning.includes('手机号与已有客户相同（负责人：王老板）'), 'the warning says which field matched: ' + warning);
  assert(await page.getByTestId('duplicate-open').count() === 1, 'open link to the existing customer');
  await page.getByTestId('customer-dialog-submit').click();
  await page.getByTestId('customer-conflict').waitFor();
  const conflict = await page.getByTestId('customer-conflict').innerText();
  assert(conflict.includes('已存在') && conflict.includes('王'), '409 message shown: ' + conflict);
  // One notice, not a banner per check plus one for the refusal (issue 17.6).
  assert(await page.getByTestId('duplicate-warning').count() === 1, 'one duplicate notice');
  assert(await page.locator('[role="alert"]').count() === 1, 'no other stacked banner');
  await shot(page, 'duplicate');
  await page.getByTestId('customer-dialog-cancel').click();
  await page.getByTestId('customer-dialog').waitFor({ state: 'detached' });
  assert(await page.getByTestId('customer-row').count() === 1, 'still one customer');

  // Open the first customer from its row; reveal the phone (the administrator may).
  await page.getByTestId('customer-row').first().click();
  await page.getByTestId('page-customer-detail').waitFor();
  assert(page.url() === detailUrl, 'row opens the detail');
  await page.getByTestId('customer-phone-reveal').click();
  await page.waitForFunction(() => document.querySelector('[data-testid="customer-phone-value"]')?.textContent === '13800138000');

  // Log a follow-up with the next contact later today.
  await page.getByTestId('followup-kind-wechat').click();
  await page.getByTestId('followup-submit').click();
  await page.getByTestId('followup-content-error').waitFor();
  await page.getByTestId('followup-content').fill('微信沟通了贷款需求，客户准备好流水');
  await page.getByTestId('followup-outcome').fill('有意向');
  const next = laterTodayInShanghai();
  await page.getByTestId('followup-next').fill(next);
  await page.getByTestId('followup-submit').click();
  await page.getByTestId('timeline-followup').waitFor();
  const item = await page.getByTestId('timeline-followup').innerText();
  assert(item.includes('微信') && item.includes('有意向'), 'timeline shows the follow-up: ' + item);
  assert(item.includes(next.replace('T', ' ')), 'next contact in Beijing time: ' + item);
  assert(await page.getByTestId('timeline-event').count() === 1, 'the created event');
  await page.waitForFunction(() => document.querySelector('[data-testid="reminder-badge-count"]')?.textContent === '1');
  await shot(page, 'detail');

  // Edit: the stage moves on, the amount changes exactly, an invalid term is refused inline.
  await page.getByTestId('customer-edit').click();
  await page.getByTestId('customer-dialog').waitFor();
  await page.getByTestId('customer-form-stage').selectOption('contacted');
  await page.getByTestId('customer-form-amount').fill('0.35');
  await page.getByTestId('customer-form-term').fill('700');
  await page.getByTestId('customer-dialog-submit').click();
  await page.getByTestId('customer-form-term-error').waitFor();
  await page.getByTestId('customer-form-term').fill('24');
  await page.getByTestId('customer-dialog-submit').click();
  await page.getByTestId('customer-dialog').waitFor({ state: 'detached' });
  await page.waitForFunction(() => document.querySelector('[data-stage="contacted"]') !== null);
  assert((await page.getByTestId('customer-amount').innerText()).includes('0.35'), 'edited amount shown exactly');

  // Two people edit at once (probe finding 30): someone saves 城市 while this page still shows
  // the old copy; saving 北京 over it is refused with their value, reloading shows it, and
  // overwriting is a deliberate second step.
  const id = decodeURIComponent(new URL(page.url()).pathname.split('/').pop());
  const other = async (city) => {
    const now = await apiCall(page, 'GET', `/api/v1/customers/${encodeURIComponent(id)}`);
    await apiCall(page, 'PATCH', `/api/v1/customers/${encodeURIComponent(id)}`, { city, expected_updated_at: now.updated_at });
  };
  await other('天津滨海');
  await page.getByTestId('customer-edit').click();
  await page.getByTestId('customer-dialog').waitFor();
  await page.getByTestId('customer-form-city').fill('北京');
  await page.getByTestId('customer-dialog-submit').click();
  await page.getByTestId('edit-conflict').waitFor();
  const told = await page.getByTestId('edit-conflict').innerText();
  assert(told.includes('该客户资料已被他人修改') && told.includes('城市') && told.includes('天津滨海'), `the conflict names the field and their value: ${told}`);
  await shot(page, 'edit-conflict');
  await page.getByTestId('edit-conflict-reload').click();
  await page.getByTestId('edit-conflict').waitFor({ state: 'detached' });
  assert(await page.getByTestId('customer-form-city').inputValue() === '天津滨海', 'reloaded with their value');
  await page.getByTestId('customer-dialog-cancel').click();
  await page.getByTestId('customer-dialog').waitFor({ state: 'detached' });
  let got = await apiCall(page, 'GET', `/api/v1/customers/${encodeURIComponent(id)}`);
  assert(got.city === '天津滨海', `nothing overwritten silently: ${got.city}`);
  // Overwriting on purpose.
  await page.getByTestId('customer-edit').click();
  await page.getByTestId('customer-dialog').waitFor();
  await page.getByTestId('customer-form-city').fill('北京');
  await page.getByTestId('customer-dialog-submit').click();
  await page.getByTestId('edit-conflict').waitFor();
  await page.getByTestId('edit-conflict-overwrite').click();
  await page.getByTestId('customer-dialog').waitFor({ state: 'detached' });
  got = await apiCall(page, 'GET', `/api/v1/customers/${encodeURIComponent(id)}`);
  assert(got.city === '北京', `overwritten on purpose: ${got.city}`);

  // The dashboard's to-do list shows it; the row opens the customer.
  await page.getByTestId('nav-dashboard').click();
  await page.getByTestId('todos-today-row').waitFor();
  const todo = await page.getByTestId('todos-today-row').innerText();
  assert(todo.includes('李建国') && todo.includes('****') && todo.includes(next.replace('T', ' ')), 'to-do row: ' + todo);
  await shot(page, 'dashboard');
  await page.getByTestId('todos-today-row').click();
  await page.getByTestId('page-customer-detail').waitFor();

  // English works too.
  await page.getByTestId('locale-switch').click();
  await page.getByTestId('locale-en').click();
  await page.waitForFunction(() => document.documentElement.lang === 'en');
  assert((await page.getByTestId('customer-timeline').innerText()).includes('History'), 'timeline in English');

  // An unknown customer (or one outside the scope: the same 404) says so, not "page not found".
  await page.goto(server.base + '/customers/no-such-customer');
  await page.getByTestId('page-record-not-found').waitFor();
}
