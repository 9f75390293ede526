// The duplicate warning's next step (issue 17.6): a salesperson whose new lead is a colleague's
// customer asks for it from the warning (a reason, inline); the owner's manager approves on the
// dashboard, told by the bell; the customer is then the requester's. On a 390×844 phone.
import { apiCall, assert, setupAdmin, logInAs } from '../harness.mjs';

const PASSWORD = 'team pass 2026!';
const PHONE = '13912340099';


export default async function ({ page, server }) {
  await setupAdmin(page, server);
  const dept = await apiCall(page, 'POST', '/api/v1/departments', { name: '一部' });
  for (const [username, roles] of [['owner', ['sales']], ['asker', ['sales']], ['lead', ['manager']]]) {
    await apiCall(page, 'POST', '/api/v1/users', { username, display_name: username, roles, password: PASSWORD, department_id: dept.id });
  }
  await page.setViewportSize({ width: 390, height: 844 });
  await logInAs(page, server, 'owner', PASSWORD);
  const c = await apiCall(page, 'POST', '/api/v1/customers', { name: '司马光', phone: PHONE });
  // The approver has looked at the app before, with nothing in the bell: the request that
  // comes next is new to them (an empty log seen was taken for "never looked").
  await logInAs(page, server, 'lead', PASSWORD);
  await page.getByTestId('notice-bell').waitFor();
  await page.waitForFunction(() => Object.keys(localStorage).some((k) => k.startsWith('zhudai.notices.seen.')));

  await logInAs(page, server, 'asker', PASSWORD);
  await page.goto(`${server.base}/customers`);
  await page.getByTestId('customer-create').click();
  await page.getByTestId('customer-form-phone').fill(PHONE);
  await page.getByTestId('customer-form-phone').blur();
  await page.getByTestId('transfer-ask').click();
  // 提交申请 waits for a reason, and says so (probe finding 13).
  assert(await page.getByTestId('transfer-send').isDisabled(), 'no request without a reason');
  assert((await page.getByTestId('transfer-reason-hint').innerText()).includes('请填写申请理由'), 'the hint says why');
  await page.getByTestId('transfer-reason').fill('客户主动来电找我办理');
  assert(await page.getByTestId('transfer-reason-hint').count() === 0, 'the hint goes once a reason is typed');
  await page.getByTestId('transfer-send').click();
  // Sent: the dialog is finished — no form, no 创建客户 — and 完成 closes it.
  await page.getByTestId('transfer-asked').waitFor();
  assert(await page.getByTestId('customer-dialog-submit').count() === 0, 'no create button once the request is sent');
  assert(await page.getByTestId('customer-form-phone').count() === 0, 'no form once the request is sent');
  await page.getByTestId('customer-dialog-done').click();
  await page.getByTestId('customer-dialog').waitFor({ state: 'detached' });

  await logInAs(page, server, 'lead', PASSWORD);
  // The approver's bell counts the request (probe finding 27), not only the dashboard card.
  const count = page.getByTestId('notice-count');
  await count.waitFor();
  assert((await count.innerText()) === '1', `one request waits: ${await count.innerText()}`);
  const card = page.getByTestId('transfer-requests');
  await card.getByTestId('transfer-pending').waitFor();
  const text = await card.innerText();
  assert(text.includes('司马光') && text.includes('客户主动来电找我办理'), `the approver sees who and why: ${text}`);
  await card.getByTestId('transfer-approve').click();
  await page.getByTestId('toast').first().waitFor();
  // Decided (without opening the bell): nothing is left to do, so nothing is counted.
  await count.waitFor({ state: 'detached' });
  // The bell's entry names who asked for whom, and says it is decided.
  await page.getByTestId('notice-bell').click();
  const notice = page.getByTestId('notice-panel').locator('[data-kind="transfer_requested"][data-done="true"]');
  await notice.waitFor();
  const said = await notice.innerText();
  assert(said.includes('asker') && said.includes('司马光'), `the bell names who asks for whom: ${said}`);
  await page.getByTestId('notice-bell').click();
  const wide = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert(wide <= 0, `no sideways scroll at 390 px (${wide} px too wide)`);

  await logInAs(page, server, 'asker', PASSWORD);
  const mine = page.getByTestId('transfer-requests');
  await mine.getByTestId('transfer-mine').waitFor();
  assert((await mine.innerText()).includes('已同意'), 'approved in my list');
  const got = await apiCall(page, 'GET', `/api/v1/customers/${c.id}`);
  assert(got.name === '司马光', 'the customer is now the requester\'s');
}
