// /leads/check — the lead-vendor duplicate check (lead.check): paste or upload a lead vendor's list (phone numbers or
// their SHA-256), see which are already customers (yes/no only), download the fresh ones.
// A file is read by the server (CSV or XLSX); checks go in batches of 1,000 (the API's cap);
// the server's rate limits apply per user.
import { useState } from '../vendor/preact/hooks.module.js';
import { html } from '../html.js';
import { t } from '../i18n/index.js';
import { api, apiBlob, saveBlob } from '../api.js';
import { errorText } from '../errors.js';
import { FormError } from '../components/field.js';

const BATCH = 1000;
const HASH = /^[0-9a-fA-F]{64}$/;

/** Entries of a pasted or uploaded list: one per line (or comma / semicolon / tab separated cell). */
export function entriesOf(text) {
  const out = [];
  for (const line of text.split(/\r?\n/)) {
    for (const cell of line.split(/[,;\t]/)) {
      const v = cell.trim().replace(/^"|"$/g, '');
      // A cell without a digit is a header or a note, not an entry.
      if (v && /\d/.test(v)) out.push(v);
    }
  }
  return [...new Set(out)];
}

export function LeadCheckPage() {
  const [text, setText] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const [result, setResult] = useState(null); // { fresh, existing, invalid }
  const [saving, setSaving] = useState(false);

  // The fresh entries as an XLSX file (text cells, written by the server's export writer).
  const downloadXlsx = async () => {
    setSaving(true);
    setError(null);
    try {
      saveBlob('fresh-leads.xlsx', await apiBlob('POST', '/api/v1/leads/fresh.xlsx', { entries: result.fresh }));
    } catch (e) {
      setError(errorText(e));
    } finally {
      setSaving(false);
    }
  };

  // The server reads the file (CSV in UTF-8 or GBK, or XLSX) and hands back its entries.
  const onFile = async (event) => {
    const file = event.currentTarget.files?.[0];
    if (!file) return;
    setError(null);
    setBusy(true);
    try {
      const form = new FormData();
      form.append('file', file);
      const list = await api('POST', '/api/v1/leads/list-file', form);
      setText(list.entries.join('\n'));
      if (!list.entries.length) setError(t('leadCheck.none'));
    } catch (e) {
      setError(errorText(e));
    } finally {
      setBusy(false);
    }
  };

  const run = async () => {
    const entries = entriesOf(text);
    setError(null);
    setResult(null);
    if (!entries.length) {
      setError(t('leadCheck.none'));
      return;
    }
    setBusy(true);
    const fresh = [];
    const invalid = [];
    let existing = 0;
    try {
      for (let i = 0; i < entries.length; i += BATCH) {
        const chunk = entries.slice(i, i + BATCH);
        const body = { phones: chunk.filter((e) => !HASH.test(e)), sha256: chunk.filter((e) => HASH.test(e)) };
        const res = await api('POST', '/api/v1/leads/check', body);
        for (const r of res.results) {
          if (r.error) invalid.push(`${r.input} (${r.error})`);
          else if (r.exists) existing += 1;
          else fresh.push(r.input);
        }
      }
      setResult({ fresh, existing, invalid });
    } catch (e) {
      setError(errorText(e));
      if (fresh.length || existing) setResult({ fresh, existing, invalid, partial: true });
    } finally {
      setBusy(false);
    }
  };

  return html`<section class="page" data-testid="page-lead-check">
    <header class="page-header">
      <h1 class="page-title">${t('leadCheck.title')}</h1>
      <p class="page-subtitle">${t('leadCheck.subtitle')}</p>
    </header>
    <div class="card">
      <label class="field-label" for="lead-input">${t('leadCheck.input')}</label>
      <textarea class="input textarea lead-input" id="lead-input" value=${text} data-testid="lead-input"
        placeholder=${t('leadCheck.placeholder')} onInput=${(e) => setText(e.currentTarget.value)}></textarea>
      <div class="field">
        <label class="field-label" for="lead-file">${t('leadCheck.upload')}</label>
        <input id="lead-file" type="file" accept=".csv,.txt,.xlsx,text/csv,text/plain,application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" onChange=${onFile} data-testid="lead-file" />
        <div class="field-hint">${t('leadCheck.uploadHint')}</div>
      </div>
      <${FormError} text=${error} testid="lead-error" />
      <button type="button" class="btn btn-primary" disabled=${busy} onClick=${run} data-testid="lead-run">
        ${busy ? t('leadCheck.running') : t('leadCheck.run')}</button>
    </div>
    ${result && html`<div class="card" data-testid="lead-result">
      <p>${t('leadCheck.summary', { fresh: result.fresh.length, existing: result.existing, invalid: result.invalid.length })}</p>
      ${result.partial && html`<p class="muted">${t('leadCheck.partial')}</p>`}
      <button type="button" class="btn" disabled=${!result.fresh.length || saving} data-testid="lead-download"
        onClick=${downloadXlsx}>${t('leadCheck.download')}</button>
      ${result.invalid.length > 0 && html`<details><summary>${t('leadCheck.invalidList')}</summary>
        <ul>${result.invalid.map((v) => html`<li key=${v}>${v}</li>`)}</ul></details>`}
    </div>`}
  </section>`;
}
