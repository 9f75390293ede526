// First run: the setup link from the console → create the administrator → logged in → the
// shell in Chinese → switch to English → a reload keeps English → log out → log in again.
import { assert } from '../harness.mjs';

export default async function ({ page, server }) {
  assert(server.setupUrl, 'the first run prints a setup link');
  await page.goto(server.setupUrl);
  await page.getByTestId('setup-form').waitFor();
  assert((await page.getAttribute('html', 'lang')) === 'zh-CN', 'Chinese by default');

  await page.getByTestId('setup-username').fill('boss');
  await page.getByTestId('setup-display-name').fill('王老板');
  await page.getByTestId('setup-password').fill('short');
  await page.getByTestId('setup-confirm').fill('short');
  await page.getByTestId('setup-submit').click();
  await page.getByTestId('setup-password-error').waitFor();

  await page.getByTestId('setup-password').fill('a long enough pass');
  await page.getByTestId('setup-confirm').fill('a long enough pass');
  await page.getByTestId('setup-confirm').press('Enter');

  await page.getByTestId('shell').waitFor();
  assert(!page.url().includes('token='), 'the token is gone from the address bar');
  const nav = await page.getByTestId('nav').innerText();
  assert(nav.includes('工作台'), 'navigation in Chinese: ' + nav);
  assert((await page.getByTestId('user-display-name').innerText()).includes('王老板'), 'display name shown');

  await page.getByTestId('locale-switch').click();
  await page.getByTestId('locale-en').click();
  await page.waitForFunction(() => document.documentElement.lang === 'en');
  assert((await page.getByTestId('nav').innerText()).includes('Dashboard'), 'navigation in English');

  await page.reload();
  await page.getByTestId('shell').waitFor();
  assert((await page.getAttribute('html', 'lang')) === 'en', 'English survives a reload');
  assert((await page.getByTestId('nav').innerText()).includes('Dashboard'), 'still English after reload');

  await page.getByTestId('nav-system').click();
  await page.getByTestId('health-status').waitFor();
  // Capabilities by name, not raw codes (issue 17.9); the code stays in the tooltip.
  const caps = await page.getByTestId('user-capabilities').innerText();
  assert(caps.includes('View customers'), 'capability labels in English: ' + caps);
  assert(!caps.includes('customer.read'), 'no raw capability code: ' + caps);

  await page.getByTestId('user-menu').click();
  await page.getByTestId('logout').click();
  await page.getByTestId('login-form').waitFor();
  await page.getByTestId('login-username').fill('boss');
  await page.getByTestId('login-password').fill('wrong password');
  await page.getByTestId('login-password').press('Enter');
  await page.getByTestId('login-error').waitFor();
  await page.getByTestId('login-password').fill('a long enough pass');
  await page.getByTestId('login-password').press('Enter');
  await page.getByTestId('shell').waitFor();

  // An unknown client route shows the 404 page inside the shell.
  await page.goto(server.base + '/no/such/page');
  await page.getByTestId('page-not-found').waitFor();
}
