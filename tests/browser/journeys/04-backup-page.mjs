// Backups: first-run setup → the administrator opens 备份 under 系统设置 in the navigation → the
// page shows the honest "not configured" state (how to set up [backup], the manual command,
// docs/backup.md) and no warning banner (scheduled backups are off); the reason in Chinese, and
// 立即备份 disabled with it until backups are configured. Screenshots:
// tests/browser/artifacts/04-*.png.
import { join } from 'node:path';
import { artifacts, assert } from '../harness.mjs';

const shot = (page, name) => page.screenshot({ path: join(artifacts, `04-${name}.png`) });

export default async function ({ page, server }) {
  const statusCalls = [];
  page.on('request', (r) => {
    if (r.url().includes('/api/v1/backups/status')) statusCalls.push(r.url());
  });

  await page.goto(server.setupUrl);
  await page.getByTestId('setup-form').waitFor();
  await page.getByTestId('setup-username').fill('boss');
  await page.getByTestId('setup-display-name').fill('王老板');
  await page.getByTestId('setup-password').fill('a long enough pass');
  await page.getByTestId('setup-confirm').fill('a long enough pass');
  await page.getByTestId('setup-confirm').press('Enter');
  await page.getByTestId('shell').waitFor();

  // The entry sits in the 系统设置 section of the navigation.
  const section = page.getByTestId('nav-section-settings');
  assert((await section.getByTestId('nav-admin-backup').innerText()).includes('备份'), 'backup in the settings section');
  await section.getByTestId('nav-admin-backup').click();
  await page.getByTestId('page-admin-backup').waitFor();
  assert(new URL(page.url()).pathname === '/admin/backup', 'at /admin/backup');
  assert((await page.title()).startsWith('备份'), 'page title: ' + (await page.title()));

  // Unconfigured: explained, with the config example, the manual command and the docs.
  const setup = page.getByTestId('backup-unconfigured');
  await setup.waitFor();
  const setupText = await setup.innerText();
  assert(setupText.includes('尚未配置备份'), 'unconfigured title: ' + setupText);
  assert(setupText.includes('data/config.toml') && setupText.includes('[backup]'), 'how to configure');
  assert(setupText.includes('docs/backup.md'), 'points to the docs');
  assert((await page.getByTestId('backup-manual-command').innerText()).includes('zhudai backup --out F.age --passphrase-file F'),
    'manual backup command');
  assert((await page.getByTestId('backup-enabled').innerText()).includes('未启用'), 'scheduled backups off');
  assert((await page.getByTestId('backup-never').innerText()).includes('还没有备份记录'), 'no backup yet');
  assert(await page.getByTestId('backup-banner').count() === 0, 'no warning banner while backups are simply off');
  assert(statusCalls.length >= 1, 'the status was fetched');
  await shot(page, 'unconfigured');

  // The reason is in Chinese (no "backup.dir is not set" in the Chinese UI), and 立即备份 is
  // disabled with that reason until backups are configured (issue 17.8).
  const reason = await page.getByTestId('backup-config-error').innerText();
  assert(reason.includes('尚未设置备份目录') && !reason.includes('is not set'), 'the reason in Chinese: ' + reason);
  const run = page.getByTestId('backup-run');
  assert(await run.isDisabled(), '立即备份 disabled until configured');
  assert((await run.getAttribute('title')).includes('尚未设置备份目录'), 'the button says why: ' + (await run.getAttribute('title')));
  await shot(page, 'not-configured');
  assert(await page.getByTestId('toast').count() === 0, 'no toast');

  // Set up from the page (issue 17.8): a relative directory is refused beside the field; an
  // absolute one and a public key make backups configured at once, no restart.
  await page.getByTestId('backup-edit-open').click();
  await page.getByTestId('backup-edit').waitFor();
  await page.getByTestId('backup-edit-enabled').check();
  await page.getByTestId('backup-edit-dir').fill('backups');
  await page.getByTestId('backup-edit-recipients').fill('age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p');
  await page.getByTestId('backup-edit-submit').click();
  const dirError = page.getByTestId('backup-edit-dir-error');
  await dirError.waitFor();
  assert((await dirError.innerText()).includes('绝对路径'), 'the reason beside the field: ' + (await dirError.innerText()));
  await page.getByTestId('backup-edit-dir').fill(process.env.TMPDIR || '/tmp');
  await page.getByTestId('backup-edit-submit').click();
  await page.getByTestId('backup-edit').waitFor({ state: 'detached' });
  assert((await page.getByTestId('backup-configured').innerText()).includes('完整'), 'configured without a restart');
  assert((await page.getByTestId('backup-source').innerText()).includes('本页面'), 'from the page');
  assert(!(await page.getByTestId('backup-run').isDisabled()), '立即备份 enabled');
}
