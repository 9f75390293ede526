// Documents custody on a phone (390×844): on a deal page the documents card lists the
// product's documents; a scan (a generated PNG, sent as the camera would) is uploaded to the
// ID card item with progress and shown as a thumbnail served by the encrypted blob store; the
// item is received, then lent out to the lender's staff (the recipient asked for in a small
// form); the documents page lists it as lent out, and nothing is wider than the screen.
import { deflateSync } from 'node:zlib';
import { join } from 'node:path';
import { apiCall, artifacts, assert, setupAdmin } from '../harness.mjs';

/** A valid 32×32 PNG (a grey square) built by hand: no image library needed. */
function png() {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k += 1) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (buf) => {
    let c = 0xffffffff;
    for (const b of buf) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type, data) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const sum = Buffer.alloc(4);
    sum.writeUInt32BE(crc(body));
    return Buffer.concat([len, body, sum]);
  };
  const size = 32;
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0);
  ihdr.writeUInt32BE(size, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 0; // greyscale
  const rows = Buffer.alloc(size * (size + 1), 0x80);
  for (let y = 0; y < size; y += 1) rows[y * (size + 1)] = 0; // filter byte per row
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr), chunk('IDAT', deflateSync(rows)), chunk('IEND', Buffer.alloc(0)),
  ]);
}

export default async function ({ page, server }) {
  await setupAdmin(page, server);
  const p = await apiCall(page, 'POST', '/api/v1/products', {
    name: '房抵贷', lender: '某银行', category: 'mortgage',
    amount_min_fen: 1000000, amount_max_fen: 300000000, term_min_months: 12, term_max_months: 120,
    rate_min_bp: 400, rate_max_bp: 900, methods: ['annuity'],
    documents: ['身份证', '房产证'],
  });
  const c = await apiCall(page, 'POST', '/api/v1/customers', { name: '孙八', phone: '13812345679' });
  const d = await apiCall(page, 'POST', '/api/v1/deals', {
    customer_id: c.id, product_id: p.id, amount_fen: 80000000, term_months: 60,
  });

  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(`${server.base}/deals/${d.id}`);
  await page.getByTestId('deal-documents').waitFor();
  const items = page.getByTestId('doc-item');
  await items.first().waitFor();
  assert((await items.count()) === 2, 'the product asks for two documents');
  const id = items.filter({ hasText: '身份证' });
  assert((await id.locator('[data-doc-status]').getAttribute('data-doc-status')) === 'pending', 'pending at first');
  const input = id.getByTestId('doc-upload');
  assert((await input.getAttribute('capture')) === 'environment', 'a phone opens the camera');
  assert((await input.getAttribute('accept')).includes('image/*'), 'images accepted');

  await input.setInputFiles({ name: '身份证正面.png', mimeType: 'image/png', buffer: png() });
  await id.getByTestId('doc-file').waitFor();
  assert((await id.getByTestId('doc-file-link').innerText()).includes('身份证正面.png'), 'the file is listed by its name');
  const thumb = id.locator('img.doc-thumb');
  await page.waitForFunction((el) => el.complete && el.naturalWidth === 32, await thumb.elementHandle());

  // A file of the deal itself (not one of the documents): listed under 业务附件 and served by
  // its id (`/api/v1/attachments/{id}`).
  const attachments = page.getByTestId('deal-attachments');
  await attachments.getByTestId('deal-attachments-empty').waitFor();
  await attachments.getByTestId('deal-attachment-upload').setInputFiles({ name: '银行流水.png', mimeType: 'image/png', buffer: png() });
  const link = attachments.getByTestId('doc-file-link');
  await link.waitFor();
  assert((await link.innerText()).includes('银行流水.png'), 'the attachment is listed by its name');
  assert((await link.getAttribute('href')).startsWith('/api/v1/attachments/'), 'served by its id');
  assert((await id.getByTestId('doc-file').count()) === 1, 'the checklist item keeps its one file');
  // A wrong upload is deleted after a confirmation.
  await attachments.getByTestId('doc-file-remove').click();
  await page.getByRole('dialog').getByRole('button', { name: '删除' }).click();
  await attachments.getByTestId('deal-attachments-empty').waitFor();

  // Received, then lent out to the lender (the recipient is asked for).
  await id.getByTestId('doc-move-received').click();
  await page.getByTestId('doc-move').waitFor();
  await page.getByTestId('doc-move-submit').click();
  await page.getByTestId('doc-move').waitFor({ state: 'detached' });
  await id.locator('[data-doc-status="received"]').waitFor();
  await id.getByTestId('doc-move-lent_out').click();
  await page.getByTestId('doc-move').waitFor();
  await page.getByTestId('doc-move-submit').click();
  await page.getByTestId('doc-move-recipient-error').waitFor();
  await page.getByTestId('doc-move-recipient').fill('银行张经理');
  await page.getByTestId('doc-move-note').fill('面签用');
  await page.getByTestId('doc-move-submit').click();
  await page.getByTestId('doc-move').waitFor({ state: 'detached' });
  await id.locator('[data-doc-status="lent_out"]').waitFor();
  await id.getByTestId('doc-history').locator('summary').click();
  assert((await id.getByTestId('doc-history').innerText()).includes('银行张经理'), 'the hand-over names the recipient');
  const wide = await page.evaluate(() => document.documentElement.scrollWidth);
  assert(wide <= 390, `the deal page is not wider than the phone: ${wide}`);
  await page.screenshot({ path: join(artifacts, '28-deal-documents-phone.png'), fullPage: true });

  // The documents page lists it as lent out.
  await page.goto(`${server.base}/documents`);
  await page.getByTestId('page-documents').waitFor();
  const row = page.getByTestId('custody-row');
  await row.first().waitFor();
  assert((await row.count()) === 1, 'one document held');
  const text = await row.first().innerText();
  assert(text.includes('孙八') && text.includes('身份证') && text.includes('借出') && text.includes('银行张经理'), `the row: ${text}`);
  await page.getByTestId('custody-overdue-only').check();
  await page.getByTestId('custody-empty').waitFor();
  const wide2 = await page.evaluate(() => document.documentElement.scrollWidth);
  assert(wide2 <= 390, `the documents page is not wider than the phone: ${wide2}`);
  await page.screenshot({ path: join(artifacts, '28-documents-page-phone.png'), fullPage: true });
}
