// After login the app returns to the page the user came from, but never to another site,
// whatever tricks the `next` parameter tries (tab-folded "//host", backslashes, full URLs).
import { assert, setupAdmin } from '../harness.mjs';

export default async function ({ page, server }) {
  await setupAdmin(page, server);
  const origin = new URL(server.base).origin;

  const cases = [
    ['/system', '/system'],
    ['%2F%09%2Fevil.example', '/'],
    ['%2F%5Cevil.example', '/'],
    ['https%3A%2F%2Fevil.example%2F', '/'],
    ['%2F%2Fevil.example', '/'],
  ];
  for (const [next, expected] of cases) {
    await page.getByTestId('user-menu').click();
    await page.getByTestId('logout').click();
    await page.getByTestId('login-form').waitFor();
    await page.goto(`${server.base}/login?next=${next}`);
    await page.getByTestId('login-username').fill('boss');
    await page.getByTestId('login-password').fill('a long enough pass');
    await page.getByTestId('login-password').press('Enter');
    await page.getByTestId('shell').waitFor();
    const url = new URL(page.url());
    assert(url.origin === origin, `stayed on the site for next=${next}: ${page.url()}`);
    assert(url.pathname === expected, `next=${next} → ${url.pathname}, expected ${expected}`);
  }
}
