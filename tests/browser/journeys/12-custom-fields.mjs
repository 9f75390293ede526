// Custom fields and tag groups through the settings page: the administrator opens 字段与标签
// from the navigation, sees the empty states, gets inline errors (a select field without
// options; a key taken twice), defines a single-select field shown in the list and a tag group
// with a colour, reorders and deletes with a confirmation → creates a customer using the field
// and a tag of the group → sees both on the detail page and the field as a list column.
// (A sales user has no entry: journey 02 checks the sales navigation exactly.) Screenshots: tests/browser/artifacts/12-*.png.
import { apiCall, artifacts, assert, setupAdmin } from '../harness.mjs';
import { join } from 'node:path';

const shot = (page, name) => page.screenshot({ path: join(artifacts, `12-${name}.png`) });

async function fieldKeys(page) {
  return page.getByTestId('custom-field-row').evaluateAll((rows) => rows.map((r) => r.dataset.key));
}

export default async function ({ page, server }) {
  await setupAdmin(page, server);

  // The navigation entry (settings.manage) → the page, empty states on both tabs.
  await page.getByTestId('nav-admin-customer-settings').click();
  await page.getByTestId('page-customer-settings').waitFor();
  await page.getByTestId('custom-fields-empty').waitFor();
  await page.getByTestId('settings-tab-groups').click();
  await page.getByTestId('tag-groups-empty').waitFor();
  await page.getByTestId('settings-tab-fields').click();

  // A select field: without options the form says so next to the input.
  await page.getByTestId('custom-field-create').click();
  await page.getByTestId('field-dialog').waitFor();
  await page.getByTestId('cf-label').fill('来源类型');
  await page.getByTestId('cf-key').fill('source_kind');
  await page.getByTestId('cf-kind').selectOption('select');
  await page.getByTestId('field-dialog-submit').click();
  const optErr = await page.getByTestId('cf-options-error').innerText();
  assert(optErr.includes('选项'), `options error: ${optErr}`);
  await page.getByTestId('cf-options').fill('转介绍\n抖音广告、老客户');
  await page.getByTestId('cf-show-in-list').check();
  await shot(page, 'field-form');
  await page.getByTestId('field-dialog-submit').click();
  await page.getByTestId('field-dialog').waitFor({ state: 'detached' });
  await page.getByTestId('custom-fields-table').waitFor();

  // The API's own reason on the key input: a key that exists (409) and a bad key (400).
  await page.getByTestId('custom-field-create').click();
  await page.getByTestId('cf-label').fill('重复');
  await page.getByTestId('cf-key').fill('source_kind');
  await page.getByTestId('field-dialog-submit').click();
  const dupErr = await page.getByTestId('cf-key-error').innerText();
  assert(dupErr.includes('已存在'), `duplicate key error: ${dupErr}`);
  await page.getByTestId('cf-key').fill('a b');
  await page.getByTestId('field-dialog-submit').click();
  await page.getByTestId('cf-key-error').filter({ hasText: '字段键' }).waitFor();
  await page.getByTestId('cf-key').fill('wechat');
  await page.getByTestId('cf-label').fill('微信号');
  await page.getByTestId('field-dialog-submit').click();
  await page.getByTestId('field-dialog').waitFor({ state: 'detached' });
  await page.getByTestId('custom-field-row').nth(1).waitFor();

  // Reorder: 微信号 moves above 来源类型.
  assert((await fieldKeys(page)).join(',') === 'source_kind,wechat', 'creation order');
  await page.getByTestId('custom-field-row').nth(1).getByTestId('move-up').click();
  await page.waitForFunction(() => document.querySelector('[data-testid="custom-field-row"]')?.dataset.key === 'wechat');
  const saved = await apiCall(page, 'GET', '/api/v1/custom-fields');
  assert(saved.map((d) => d.key).join(',') === 'wechat,source_kind', 'order saved');

  // Delete asks first; cancelling keeps it, confirming removes it.
  const wechatRow = page.getByTestId('custom-field-row').filter({ hasText: '微信号' });
  await wechatRow.getByTestId('custom-field-delete').click();
  await page.getByTestId('confirm-dialog').waitFor();
  await page.getByTestId('confirm-cancel').click();
  assert((await fieldKeys(page)).length === 2, 'cancel keeps the field');
  await wechatRow.getByTestId('custom-field-delete').click();
  await page.getByTestId('confirm-ok').click();
  await page.waitForFunction(() => document.querySelectorAll('[data-testid="custom-field-row"]').length === 1);

  // A tag group with a colour.
  await page.getByTestId('settings-tab-groups').click();
  await page.getByTestId('tag-group-create').click();
  await page.getByTestId('group-dialog').waitFor();
  await page.getByTestId('tg-name').fill('资质');
  await page.getByTestId('tg-tags').fill('有房\n有车，公积金');
  await page.getByTestId('tg-use-color').check();
  await page.getByTestId('group-dialog-submit').click();
  await page.getByTestId('group-dialog').waitFor({ state: 'detached' });
  const groupRow = page.getByTestId('tag-group-row').filter({ hasText: '资质' });
  const groupText = await groupRow.innerText();
  assert(groupText.includes('有车') && groupText.includes('公积金'), `group tags listed: ${groupText}`);
  await shot(page, 'groups');

  // A customer with both, created through the form.
  await page.getByTestId('nav-customers').click();
  await page.getByTestId('customer-create').click();
  await page.getByTestId('customer-dialog').waitFor();
  await page.getByTestId('customer-form-name').fill('周五');
  await page.getByTestId('customer-form-phone').fill('13800138005');
  await page.getByTestId('custom-source_kind').selectOption('抖音广告');
  await page.getByTestId('tag-pick-有车').click();
  await page.getByTestId('customer-dialog-submit').click();
  await page.getByTestId('page-customer-detail').waitFor();
  const kind = await page.getByTestId('customer-custom-source_kind').innerText();
  assert(kind === '抖音广告', `custom value on the detail page: ${kind}`);
  const tags = await page.getByTestId('customer-tags').innerText();
  assert(tags.includes('有车'), `tag on the detail page: ${tags}`);

  // The field is a list column (show_in_list), with the value.
  await page.getByTestId('back-to-customers').click();
  await page.getByTestId('customers-table').waitFor();
  const header = await page.getByTestId('customers-table').locator('thead').innerText();
  assert(header.includes('来源类型'), `list column header: ${header}`);
  const cell = await page.getByTestId('customer-row').filter({ hasText: '周五' }).getByTestId('customer-row-custom-source_kind').innerText();
  assert(cell === '抖音广告', `list cell: ${cell}`);
  await shot(page, 'list');
}
