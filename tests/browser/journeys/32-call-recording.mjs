// Calls on a phone (390×844): a PBX (an API token with call.ingest, used from outside the
// browser) reports an answered call and uploads its recording (a generated 3-second WAV); the
// customer page lists the call with the masked number, the recording plays in an <audio>
// element (metadata loads, seeking works through Range requests), the timeline shows the
// call, and the click-to-call button is disabled with its reason (not configured); the
// dashboard shows today's call statistics, and a call no customer matched waits there until
// the admin attaches it to the customer (searched by name).
import { join } from 'node:path';
import { apiCall, artifacts, assert, setupAdmin } from '../harness.mjs';

/** A WAV file: 8 kHz, mono, 8-bit, `seconds` of a 440 Hz tone. */
function wav(seconds) {
  const n = 8000 * seconds;
  const b = Buffer.alloc(44 + n);
  b.write('RIFF', 0, 'ascii');
  b.writeUInt32LE(36 + n, 4);
  b.write('WAVEfmt ', 8, 'ascii');
  b.writeUInt32LE(16, 16);
  b.writeUInt16LE(1, 20); // PCM
  b.writeUInt16LE(1, 22); // mono
  b.writeUInt32LE(8000, 24);
  b.writeUInt32LE(8000, 28);
  b.writeUInt16LE(1, 32);
  b.writeUInt16LE(8, 34);
  b.write('data', 36, 'ascii');
  b.writeUInt32LE(n, 40);
  for (let i = 0; i < n; i += 1) b[44 + i] = Math.round(128 + 60 * Math.sin((2 * Math.PI * 440 * i) / 8000));
  return b;
}

export default async function ({ page, server }) {
  await setupAdmin(page, server);
  const c = await apiCall(page, 'POST', '/api/v1/customers', { name: '周九', phone: '13812345670' });
  const token = (await apiCall(page, 'POST', '/api/v1/tokens', { name: '呼叫中心' })).token;
  const pbx = (method, path, body, type = 'application/json') => fetch(`${server.base}${path}`, {
    method, headers: { authorization: `Bearer ${token}`, 'content-type': type }, body,
  });
  const r = await pbx('POST', '/api/v1/calls', JSON.stringify({
    external_id: 'journey-32', direction: 'out', from: '8001', to: '13812345670',
    started_at: new Date(Date.now() - 1000).toISOString(), ring_seconds: 4, talk_seconds: 3,
    result: 'answered', agent: 'boss',
  }));
  assert(r.status === 201, `call ingested: ${r.status}`);
  const call = await r.json();
  assert(!('customer_id' in call), 'the PBX is not told whose number it is');
  assert(call.to === '138****5670', 'masked');
  const matched = await apiCall(page, 'GET', `/api/v1/customers/${c.id}/calls`);
  assert(matched.items.length === 1 && matched.items[0].id === call.id, 'matched by the number');
  const up = await pbx('POST', `/api/v1/calls/${call.id}/recording`, wav(3), 'application/octet-stream');
  assert(up.status === 201, `recording stored: ${up.status}`);

  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(`${server.base}/customers/${c.id}`);
  await page.getByTestId('customer-calls').waitFor();
  const row = page.getByTestId('customer-call');
  await row.first().waitFor();
  const text = await row.first().innerText();
  assert(text.includes('138****5670') && !text.includes('13812345670'), `the call row is masked: ${text}`);
  const audio = page.getByTestId('call-audio');
  await audio.waitFor();
  const handle = await audio.elementHandle();
  await page.waitForFunction((el) => el.readyState >= 1 && el.duration > 2.5, handle, { timeout: 15000 });
  // Seeking: the browser fetches the rest by Range.
  const seeked = await page.evaluate((el) => new Promise((resolve) => {
    el.addEventListener('seeked', () => resolve(el.currentTime), { once: true });
    el.currentTime = 2;
  }), handle);
  assert(Math.abs(seeked - 2) < 0.2, `seeked to ${seeked}`);

  // Click-to-call: not configured, so disabled with the reason.
  const button = page.getByTestId('click-to-call');
  assert(await button.isDisabled(), 'click-to-call is disabled when not configured');
  assert((await button.getAttribute('title')).includes('click_to_call_url'), 'the tooltip says why');
  await page.getByTestId('click-to-call-off').waitFor();
  assert((await page.getByTestId('timeline').innerText()).includes('通话'), 'the call is on the timeline');
  const wide = await page.evaluate(() => document.documentElement.scrollWidth);
  assert(wide <= 390, `the customer page is not wider than the phone: ${wide}`);
  await page.screenshot({ path: join(artifacts, '32-customer-calls-phone.png'), fullPage: true });

  // The dashboard shows today's call statistics (one answered call of 3 s, one customer).
  await page.goto(`${server.base}/`);
  const stats = page.getByTestId('call-stats-row');
  await stats.first().waitFor();
  const cells = await stats.first().locator('td').allInnerTexts();
  assert(cells[0] === '王老板' && cells[1] === '1' && cells[2] === '100.0%' && cells[5] === '1', `the stats row: ${cells}`);
  const wide2 = await page.evaluate(() => document.documentElement.scrollWidth);
  assert(wide2 <= 390, `the dashboard is not wider than the phone: ${wide2}`);

  // A call from a number no customer has waits on the dashboard; the admin attaches it.
  const lost = await pbx('POST', '/api/v1/calls', JSON.stringify({
    external_id: 'journey-32-b', direction: 'in', from: '13900009999', to: '8001',
    started_at: new Date(Date.now() - 1000).toISOString(), ring_seconds: 9, talk_seconds: 0,
    result: 'no_answer', agent: 'boss',
  }));
  assert(lost.status === 201, `unmatched call ingested: ${lost.status}`);
  await page.reload();
  const waiting = page.getByTestId('unmatched-call');
  await waiting.first().waitFor();
  assert((await waiting.first().innerText()).includes('139****9999'), 'the waiting call is masked');
  await waiting.first().getByTestId('unmatched-call-attach').click();
  await page.getByTestId('call-attach').waitFor();
  await page.getByTestId('call-attach-q').fill('周九');
  await page.getByTestId('call-attach-option').first().click();
  await page.getByTestId('call-attach-submit').click();
  await page.getByTestId('unmatched-calls').waitFor({ state: 'detached' });
  const calls = await apiCall(page, 'GET', `/api/v1/customers/${c.id}/calls`);
  assert(calls.total === 2, `the customer has both calls now: ${calls.total}`);
  await page.screenshot({ path: join(artifacts, '32-dashboard-calls-phone.png'), fullPage: true });
}
