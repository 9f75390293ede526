// Custom reports (Rhai plugins under plugins/reports/): the administrator adds the shipped
// example 每周跟进质量 through the plugins page (uploading the .rhai file), opens it from the
// reports menu, runs it with a period and sees rows and a chart; a broken report added the same
// way shows its error with file and line on the reports page and on the plugins page, while
// the other reports keep working.
import { join } from 'node:path';
import { apiCall, artifacts, assert, root, setupAdmin } from '../harness.mjs';

const shot = (page, name) => page.screenshot({ path: join(artifacts, `38-${name}.png`) });

const BROKEN = `fn meta() { #{ title: "坏报表" } }

fn run(data, params) {
  let total = 0;
  throw "no data for this";
}
`;

export default async function ({ page, server }) {
  await setupAdmin(page, server);
  const c = await apiCall(page, 'POST', '/api/v1/customers', { name: '甲', phone: '13912345670' });
  for (let i = 0; i < 3; i++) {
    await apiCall(page, 'POST', `/api/v1/customers/${c.id}/followups`, { kind: 'call', content: '电话沟通' });
  }

  // Add the example through the plugins page.
  await page.goto(`${server.base}/admin/plugins`);
  await page.getByTestId('page-admin-plugins').waitFor();
  await page.getByTestId('plugin-new-report-open').click();
  await page.getByTestId('plugin-new-file').setInputFiles(join(root, 'examples/plugins/reports/weekly-followups.rhai'));
  await page.waitForFunction(() => document.querySelector('[data-testid=plugin-new-source]')?.value.includes('fn run'));
  assert(await page.getByTestId('plugin-new-name').inputValue() === 'weekly-followups', 'the name comes from the file');
  await page.getByTestId('plugin-new-save').click();
  await page.getByTestId('plugin-item-report.weekly-followups').waitFor();
  await shot(page, 'plugin-added');

  // Open it from the reports menu, run it with a period.
  await page.locator('nav a[href="/reports"]').first().click();
  await page.getByTestId('page-reports').waitFor();
  await page.getByTestId('report-tab-custom-weekly-followups').click();
  await page.getByTestId('custom-report-form').waitFor();
  await page.getByTestId('custom-report-table').waitFor();
  const today = await page.getByTestId('custom-param-to').inputValue();
  await page.getByTestId('custom-param-from').fill(`${today.slice(0, 8)}01`);
  await page.getByTestId('custom-param-target').fill('1');
  await page.getByTestId('custom-report-run').click();
  await page.getByTestId('custom-report-table').waitFor();
  await page.getByTestId('custom-report-chart').waitFor();
  const table = await page.getByTestId('custom-report-table').innerText();
  assert(table.includes('王老板') && table.includes('3'), `the admin's three follow-ups: ${table}`);
  await shot(page, 'report');

  // A broken report: its error with file and line, the page still works.
  await page.goto(`${server.base}/admin/plugins`);
  await page.getByTestId('plugin-new-report-open').click();
  await page.getByTestId('plugin-new-name').fill('broken');
  await page.getByTestId('plugin-new-source').fill(BROKEN);
  await page.getByTestId('plugin-new-save').click();
  await page.getByTestId('plugin-item-report.broken').waitFor();

  await page.goto(`${server.base}/reports`);
  await page.getByTestId('report-tab-custom-broken').click();
  const error = page.getByTestId('custom-report-error');
  await error.waitFor();
  const text = await error.innerText();
  assert(text.includes('reports/broken.rhai:5'), `file and line: ${text}`);
  await shot(page, 'broken');
  await page.getByTestId('report-tab-activity').click();
  await page.getByTestId('report-table').waitFor();
  await page.getByTestId('report-tab-custom-weekly-followups').click();
  await page.getByTestId('custom-report-table').waitFor();

  await page.goto(`${server.base}/admin/plugins`);
  await page.getByTestId('plugin-item-report.broken').click();
  await page.getByTestId('plugin-run-errors').waitFor();
  const listed = await page.getByTestId('plugin-run-errors').innerText();
  assert(listed.includes('reports/broken.rhai:5'), `the plugins page lists the failure: ${listed}`);

  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(`${server.base}/reports`);
  await page.getByTestId('report-tab-custom-weekly-followups').click();
  await page.getByTestId('custom-report-table').waitFor();
  await shot(page, 'phone');
}
