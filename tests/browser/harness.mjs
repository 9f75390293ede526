// Browser-test harness: a real zhudai (the debug binary) on a free port with a private data
// directory, and Debian's Chromium driven by playwright-core. No fixed ports, no sleeps: we
// wait for the server's banner and for elements.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import readline from 'node:readline';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
export const root = join(here, '..', '..');
export const artifacts = join(here, 'artifacts');
// Honour CARGO_TARGET_DIR (worktrees share one target directory). Worktrees sharing it also
// share `debug/zhudai`, which holds whichever worktree built last: ZHUDAI_BIN names this
// worktree's own executable instead (`cargo build --message-format=json` prints its path).
const bin = process.env.ZHUDAI_BIN || join(process.env.CARGO_TARGET_DIR || join(root, 'target'), 'debug', 'zhudai');

export function ensureBinary() {
  // Always: the UI is embedded at compile time, so a stale binary would test a stale UI.
  // (A no-op when nothing changed.)
  if (!process.env.ZHUDAI_BIN) execFileSync('cargo', ['build', '--quiet'], { cwd: root, stdio: 'inherit' });
  if (!existsSync(bin)) throw new Error(`no binary at ${bin}`);
}

/** Starts `zhudai serve` on an empty data directory; resolves with {base, setupUrl, stop}. */
export function startServer() {
  const data = mkdtempSync(join(tmpdir(), 'zhudai-browser-'));
  const child = spawn(bin, ['--data', join(data, 'data'), 'serve', '--listen', '127.0.0.1:0'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ZHUDAI_LOG: 'warn' },
  });
  const stderr = [];
  child.stderr.on('data', (d) => stderr.push(d.toString()));
  return new Promise((resolve, reject) => {
    let setupUrl = null;
    const timer = setTimeout(() => reject(new Error('server did not start: ' + stderr.join(''))), 60_000);
    child.on('exit', (code) => reject(new Error(`server exited (${code}): ${stderr.join('')}`)));
    readline.createInterface({ input: child.stdout }).on('line', (line) => {
      const m = line.match(/(http\S+\/setup#token=\S+)/);
      if (m) setupUrl = m[1];
      if (line.startsWith('listening on ')) {
        clearTimeout(timer);
        resolve({
          base: line.slice('listening on '.length).trim(),
          setupUrl,
          // Waits for the server to exit before removing its directory: a server still
          // writing (the search indexer after the last request) races a removal.
          stop: async () => {
            if (child.exitCode === null && child.signalCode === null) {
              const exited = new Promise((done) => child.once('exit', done));
              child.kill('SIGTERM');
              await Promise.race([exited, new Promise((done) => setTimeout(done, 10_000))]);
            }
            rmSync(data, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
          },
        });
      }
    });
  });
}

export async function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/** A page at 1366×768 that records console errors other than expected 4xx fetches. */
export async function newPage(browser) {
  const context = await browser.newContext({ viewport: { width: 1366, height: 768 } });
  const page = await context.newPage();
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(String(e)));
  page.on('console', (m) => {
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) page.errors.push(m.text());
  });
  return { context, page };
}

/** Calls the API from inside the page, as the signed-in user (session cookie and CSRF token),
 *  through the app's own `api.js`. */
export function apiCall(page, method, path, body) {
  return page.evaluate(async ([m, p, b]) => {
    const src = document.querySelector('script[type="module"]').src;
    const { api } = await import(src.replace(/app\.js$/, 'api.js'));
    return api(m, p, b);
  }, [method, path, body]);
}

/** First run through the setup link: the administrator boss / 王老板, signed in. */
export async function setupAdmin(page, server) {
  await page.goto(server.setupUrl);
  await page.getByTestId('setup-username').fill('boss');
  await page.getByTestId('setup-display-name').fill('王老板');
  await page.getByTestId('setup-password').fill('a long enough pass');
  await page.getByTestId('setup-confirm').fill('a long enough pass');
  await page.getByTestId('setup-confirm').press('Enter');
  await page.getByTestId('shell').waitFor();
}

/** Signs in as `username` in a fresh session (the cookies of whoever was signed in dropped). */
export async function logInAs(page, server, username, password) {
  await page.context().clearCookies();
  await page.goto(`${server.base}/login`);
  await page.getByTestId('login-username').fill(username);
  await page.getByTestId('login-password').fill(password);
  await page.getByTestId('login-password').press('Enter');
  await page.getByTestId('shell').waitFor();
}

export function assert(cond, message) {
  if (!cond) throw new Error('assertion failed: ' + message);
}

/** A screenshot for the documentation (docs/screenshots/<name>.png, the viewport only, so the
 *  file stays small): what a reader of docs/admin.md sees is what the journey just checked.
 *  Written only with ZHUDAI_DOC_SCREENSHOTS=1 (the pages show today's dates, so every run would
 *  otherwise change the committed files):
 *  `ZHUDAI_DOC_SCREENSHOTS=1 node tests/browser/run.mjs 19`. */
export async function docScreenshot(page, name) {
  if (process.env.ZHUDAI_DOC_SCREENSHOTS !== '1') return;
  const dir = join(root, 'docs', 'screenshots');
  mkdirSync(dir, { recursive: true });
  await page.screenshot({ path: join(dir, `${name}.png`), fullPage: false });
}

export function ensureArtifacts() {
  mkdirSync(artifacts, { recursive: true });
}
