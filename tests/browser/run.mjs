// Runs every journey in journeys/ against a fresh server each; exits non-zero on failure.
// Screenshots of failures (and of each journey's end) go to tests/browser/artifacts/.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ensureBinary, startServer, launchBrowser, newPage, artifacts, ensureArtifacts } from './harness.mjs';

const only = process.argv[2];
const dir = join(import.meta.dirname, 'journeys');
const files = readdirSync(dir).filter((f) => f.endsWith('.mjs') && (!only || f.includes(only))).sort();

ensureBinary();
ensureArtifacts();
const browser = await launchBrowser();
let failed = 0;
for (const file of files) {
  const journey = await import(pathToFileURL(join(dir, file)));
  const server = await startServer();
  const { context, page } = await newPage(browser);
  const started = Date.now();
  try {
    await journey.default({ page, server });
    if (page.errors.length) throw new Error('console errors: ' + page.errors.join(' | '));
    await page.screenshot({ path: join(artifacts, file.replace('.mjs', '.png')) });
    console.log(`ok    ${file} (${Date.now() - started} ms)`);
  } catch (e) {
    failed++;
    console.log(`FAIL  ${file}: ${e.stack || e}`);
    await page.screenshot({ path: join(artifacts, file.replace('.mjs', '-failed.png')) }).catch(() => {});
  } finally {
    await context.close();
    await server.stop();
  }
}
await browser.close();
console.log(failed ? `${failed} journey(s) failed` : `${files.length} journey(s) passed`);
process.exit(failed ? 1 : 0);
