// /customers/import — importing customers (capability customer.import):
// 1. choose a file → POST /api/v1/imports/preview shows its encoding, header and first rows
//    with one select per column (field or "ignore"), a matching saved template applied;
// 2. start → POST /api/v1/imports (multipart: file, mapping, options) answers 202 with a job;
// 3. the job is polled every 500 ms: progress bar (processed / total), counts, cancel;
//    when it ends: the first rejected rows and the error report (errors.xlsx) to download.
import { useEffect, useRef, useState } from '../vendor/preact/hooks.module.js';
import { html } from '../html.js';
import { t } from '../i18n/index.js';
import { api } from '../api.js';
import { navigate } from '../router.js';
import { formatDateTime } from '../format.js';
import { errorText } from '../errors.js';
import { toast } from '../components/toast.js';
import { can, session } from '../auth.js';
import { loadDirectory } from '../components/customer-settings.js';

const POLL_MS = 500;
const FINISHED = ['done', 'failed', 'cancelled'];

function formOf(file, extra = {}) {
  const f = new FormData();
  for (const [k, v] of Object.entries(extra)) if (v !== undefined && v !== null && v !== '') f.append(k, v);
  f.append('file', file, file.name);
  return f;
}

function Counts({ job }) {
  const items = [
    ['created', job.created], ['updated', job.updated], ['skipped', job.skipped],
    ['flagged', job.flagged], ['rejected', job.rejected],
  ];
  // Rows given an owner by automatic assignment (when the import asked for it).
  if (job.assign) items.splice(1, 0, ['assigned', job.assigned || 0]);
  // Rows kept without a bad optional field (when the import asked for it).
  if (job.bad_optional === 'keep' || job.to_review) items.push(['to_review', job.to_review || 0]);
  return html`<dl class="import-counts" data-testid="import-counts">
    ${items.map(([k, v]) => html`<div key=${k}><dt>${t(`import.count.${k}`)}</dt><dd data-testid=${`import-count-${k}`}>${v}</dd></div>`)}
  </dl>`;
}

function JobProgress({ job, onCancel, cancelling }) {
  const total = job.total || 0;
  const pct = total > 0 ? Math.min(100, Math.round((job.processed * 100) / total)) : (FINISHED.includes(job.status) ? 100 : 0);
  return html`<div class="card import-job" data-testid="import-job" data-status=${job.status}>
    <div class="import-job-head">
      <strong>${job.file_name}</strong>
      <span class="badge" data-testid="import-status">${t(`import.status.${job.status}`)}</span>
      ${job.dry_run && html`<span class="badge">${t('import.dryRun')}</span>`}
    </div>
    <div class="progress" role="progressbar" aria-valuemin="0" aria-valuemax="100" aria-valuenow=${pct} data-testid="import-progress">
      <div class="progress-bar" style=${`width:${pct}%`}></div>
    </div>
    <p class="muted" data-testid="import-processed">${t('import.processed', { done: job.processed, total: total || '?' })}</p>
    <${Counts} job=${job} />
    ${job.error && html`<p class="form-error" role="alert">${job.error}</p>`}
    ${!FINISHED.includes(job.status) && html`<button type="button" class="btn" disabled=${cancelling || job.cancel_requested}
      onClick=${onCancel} data-testid="import-cancel">${t('import.cancel')}</button>`}
    ${FINISHED.includes(job.status) && job.rejected > 0 && html`<div class="import-rejected">
      <h3>${t('import.rejected.title', { count: job.rejected })}</h3>
      <${RowTable} rows=${job.rejected_rows} testid="import-rejected" />
      ${job.errors_purged
        ? html`<p class="muted" data-testid="import-errors-expired">${t('import.errors.expired')}</p>`
        : html`<a class="btn" href=${`/api/v1/imports/${encodeURIComponent(job.id)}/errors.xlsx`} download data-testid="import-errors-download">${t('import.errors.download')}</a>`}
    </div>`}
    ${FINISHED.includes(job.status) && (job.warning_rows || []).length > 0 && html`<div class="import-rejected">
      <h3>${t('import.warnings.title', { count: job.to_review })}</h3>
      <${RowTable} rows=${job.warning_rows} testid="import-warnings" />
    </div>`}
  </div>`;
}

/** Refused rows or warnings: the row, whose it is, the column, the value as typed, why. */
function RowTable({ rows, testid }) {
  return html`<div class="table-wrap"><table class="table table-compact" data-testid=${testid}>
    <thead><tr><th>${t('import.rejected.row')}</th><th>${t('import.rejected.name')}</th><th>${t('import.rejected.field')}</th>
      <th>${t('import.rejected.value')}</th><th>${t('import.rejected.reason')}</th></tr></thead>
    <tbody>${rows.map((e, i) => html`<tr key=${`${e.row}-${i}`} data-testid=${`${testid}-row`}>
      <td>${e.row}</td><td data-testid="row-name">${e.name || '—'}</td><td title=${e.field}>${e.label || e.field}</td>
      <td class="mono" data-testid="row-value">${e.value || '—'}</td><td>${e.reason}</td></tr>`)}</tbody>
  </table></div>`;
}

export function ImportPage() {
  const [file, setFile] = useState(null);
  const [preview, setPreview] = useState(null);
  const [mapping, setMapping] = useState({});
  const [templates, setTemplates] = useState([]);
  const [templateId, setTemplateId] = useState('');
  const [templateName, setTemplateName] = useState('');
  const [options, setOptions] = useState({ on_duplicate: 'skip', bad_optional: 'reject', dry_run: false, target: 'me', owner: '', pool_id: '' });
  const [staff, setStaff] = useState([]);
  const [pools, setPools] = useState([]);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const [job, setJob] = useState(null);
  const [cancelling, setCancelling] = useState(false);
  const [recent, setRecent] = useState([]);
  const timer = useRef(null);

  const loadTemplates = async () => {
    try { setTemplates((await api('GET', '/api/v1/import-templates')).items); } catch { setTemplates([]); }
  };
  const loadRecent = async () => {
    try { setRecent((await api('GET', '/api/v1/imports?limit=10')).items); } catch { setRecent([]); }
  };
  useEffect(() => {
    loadTemplates();
    loadRecent();
    loadDirectory().then((list) => setStaff((list || []).filter((u) => u.status === 'active')));
    // GET /pools answers a plain list.
    api('GET', '/api/v1/pools').then((r) => setPools(Array.isArray(r) ? r : []), () => setPools([]));
    return () => clearTimeout(timer.current);
  }, []);

  const poll = (id) => {
    clearTimeout(timer.current);
    timer.current = setTimeout(async () => {
      try {
        const j = await api('GET', `/api/v1/imports/${encodeURIComponent(id)}`);
        setJob(j);
        if (FINISHED.includes(j.status)) { loadRecent(); return; }
      } catch (e) {
        setError(e);
      }
      poll(id);
    }, POLL_MS);
  };

  const choose = async (ev) => {
    const f = ev.target.files && ev.target.files[0];
    setFile(f || null);
    setPreview(null);
    setJob(null);
    setError(null);
    if (!f) return;
    setBusy(true);
    try {
      const p = await api('POST', '/api/v1/imports/preview', formOf(f));
      setPreview(p);
      setMapping(Object.fromEntries(p.mapping.map(([h, field]) => [h, field || ''])));
      setTemplateId(p.template ? p.template.id : '');
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  const applyTemplate = (id) => {
    setTemplateId(id);
    const tpl = templates.find((x) => x.id === id);
    if (!tpl || !preview) return;
    setMapping(Object.fromEntries(preview.headers.map((h) => [h, h in tpl.mapping ? (tpl.mapping[h] || '') : (mapping[h] || '')])));
  };

  const mappingJson = () => JSON.stringify(Object.fromEntries(Object.entries(mapping).map(([h, f]) => [h, f || null])));

  const saveTemplate = async () => {
    if (!templateName.trim()) return;
    try {
      const tpl = await api('POST', '/api/v1/import-templates', { name: templateName.trim(), mapping: JSON.parse(mappingJson()) });
      toast(t('import.template.saved', { name: tpl.name }));
      setTemplateName('');
      await loadTemplates();
      setTemplateId(tpl.id);
    } catch (e) {
      setError(e);
    }
  };

  const start = async () => {
    if (!file) return;
    setBusy(true);
    setError(null);
    try {
      const j = await api('POST', '/api/v1/imports', formOf(file, {
        mapping: mappingJson(),
        on_duplicate: options.on_duplicate,
        bad_optional: options.bad_optional,
        dry_run: options.dry_run ? 'true' : '',
        owner: options.target === 'owner' ? options.owner : '',
        pool_id: options.target === 'pool' || options.target === 'auto' ? options.pool_id : '',
        assign: options.target === 'auto' ? 'auto' : '',
      }));
      setJob(j);
      setCancelling(false);
      poll(j.id);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  const cancel = async () => {
    if (!job) return;
    setCancelling(true);
    try { setJob(await api('POST', `/api/v1/imports/${encodeURIComponent(job.id)}/cancel`)); } catch (e) { setError(e); }
  };

  const set = (k) => (ev) => setOptions({ ...options, [k]: ev.target.type === 'checkbox' ? ev.target.checked : ev.target.value });
  const running = job && !FINISHED.includes(job.status);

  return html`<section class="page page-wide" data-testid="page-import">
    <header class="page-header page-header-row">
      <div>
        <h1 class="page-title">${t('import.title')}</h1>
        <p class="page-subtitle">${t('import.subtitle')}</p>
      </div>
      <button type="button" class="btn" onClick=${() => navigate('/customers')}>${t('import.back')}</button>
    </header>
    <div class="card">
      <label class="field">
        <span>${t('import.file')}</span>
        <input type="file" accept=".csv,.xlsx,text/csv" onChange=${choose} disabled=${busy || running} data-testid="import-file" />
      </label>
      ${error && html`<p class="form-error" role="alert" data-testid="import-error">${errorText(error)}</p>`}
    </div>
    ${preview && html`<div class="card" data-testid="import-preview">
      <p class="muted" data-testid="import-encoding">${t('import.preview.summary', { encoding: t(`import.encoding.${preview.encoding}`), row: preview.header_row, total: preview.total ?? '?' })}</p>
      <div class="toolbar">
        <label class="toolbar-field"><span>${t('import.template')}</span>
          <select value=${templateId} onChange=${(e) => applyTemplate(e.target.value)} data-testid="import-template">
            <option value="">${t('import.template.none')}</option>
            ${templates.map((x) => html`<option key=${x.id} value=${x.id}>${x.name}</option>`)}
          </select>
        </label>
        <label class="toolbar-field"><span>${t('import.template.saveAs')}</span>
          <input value=${templateName} onInput=${(e) => setTemplateName(e.target.value)} data-testid="import-template-name" />
        </label>
        <button type="button" class="btn" onClick=${saveTemplate} disabled=${!templateName.trim()} data-testid="import-template-save">${t('import.template.save')}</button>
      </div>
      <div class="table-scroll">
        <table class="table table-compact" data-testid="import-mapping">
          <thead>
            <tr>${preview.headers.map((h, i) => html`<th key=${i}>${h}</th>`)}</tr>
            <tr>${preview.headers.map((h, i) => html`<th key=${i}>
              <select value=${mapping[h] || ''} onChange=${(e) => setMapping({ ...mapping, [h]: e.target.value })}
                data-testid="import-column" data-header=${h} aria-label=${t('import.column', { header: h })}>
                <option value="">${t('import.ignore')}</option>
                ${preview.fields.map((f) => html`<option key=${f.key} value=${f.key}>${f.label}</option>`)}
              </select></th>`)}</tr>
          </thead>
          <tbody>${preview.rows.map((r, i) => html`<tr key=${i}>${preview.headers.map((_, c) => html`<td key=${c}>${r[c] || ''}</td>`)}</tr>`)}</tbody>
        </table>
      </div>
      <div class="toolbar">
        <label class="toolbar-field"><span>${t('import.onDuplicate')}</span>
          <select value=${options.on_duplicate} onChange=${set('on_duplicate')} data-testid="import-on-duplicate">
            ${['skip', 'update', 'flag'].map((k) => html`<option key=${k} value=${k}>${t(`import.onDuplicate.${k}`)}</option>`)}
          </select>
        </label>
        <label class="toolbar-field"><span>${t('import.target')}</span>
          <select value=${options.target} onChange=${set('target')} data-testid="import-target">
            <option value="me">${t('import.target.me')}</option>
            ${can('customer.transfer') && html`<option value="owner">${t('import.target.owner')}</option>`}
            ${pools.length > 0 && html`<option value="pool">${t('import.target.pool')}</option>`}
            ${can('customer.assign') && html`<option value="auto">${t('import.target.auto')}</option>`}
          </select>
        </label>
        ${options.target === 'auto' && pools.length > 0 && html`<label class="toolbar-field"><span>${t('import.autoPool')}</span>
          <select value=${options.pool_id} onChange=${set('pool_id')} data-testid="import-auto-pool">
            <option value="">${t('import.autoPool.mine')}</option>
            ${pools.map((p) => html`<option key=${p.id} value=${p.id}>${p.name}</option>`)}
          </select></label>`}
        ${options.target === 'owner' && html`<label class="toolbar-field"><span>${t('import.owner')}</span>
          <select value=${options.owner} onChange=${set('owner')} data-testid="import-owner">
            <option value="">${t('import.owner.pick')}</option>
            ${staff.filter((u) => u.id !== session.value?.id).map((u) => html`<option key=${u.id} value=${u.id}>${u.display_name}</option>`)}
          </select></label>`}
        ${options.target === 'pool' && html`<label class="toolbar-field"><span>${t('import.pool')}</span>
          <select value=${options.pool_id} onChange=${set('pool_id')} data-testid="import-pool">
            <option value=""></option>
            ${pools.map((p) => html`<option key=${p.id} value=${p.id}>${p.name}</option>`)}
          </select></label>`}
        <label class="toolbar-field"><span>${t('import.badOptional')}</span>
          <select value=${options.bad_optional} onChange=${set('bad_optional')} data-testid="import-bad-optional">
            ${['reject', 'keep'].map((k) => html`<option key=${k} value=${k}>${t(`import.badOptional.${k}`)}</option>`)}
          </select></label>
        <label class="checkbox"><input type="checkbox" checked=${options.dry_run} onChange=${set('dry_run')} data-testid="import-dry-run" /> ${t('import.dryRun')}</label>
        <button type="button" class="btn btn-primary" onClick=${start} disabled=${busy || running} data-testid="import-start">${t('import.start')}</button>
      </div>
    </div>`}
    ${job && html`<${JobProgress} job=${job} onCancel=${cancel} cancelling=${cancelling} />`}
    ${recent.length > 0 && html`<div class="card">
      <h2>${t('import.recent')}</h2>
      <table class="table table-compact" data-testid="import-recent">
        <thead><tr><th>${t('import.recent.file')}</th><th>${t('import.recent.status')}</th><th>${t('import.count.created')}</th><th>${t('import.count.rejected')}</th><th>${t('import.recent.at')}</th></tr></thead>
        <tbody>${recent.map((j) => html`<tr key=${j.id} data-testid="import-recent-row" data-dry-run=${j.dry_run ? 'true' : 'false'}>
          <td>${j.file_name}${j.dry_run && html` <span class="badge" data-testid="import-recent-dry-run">${t('import.dryRun')}</span>`}</td><td>${t(`import.status.${j.status}`)}</td><td>${j.created}</td>
          <td>${j.rejected > 0 && !j.errors_purged ? html`<a href=${`/api/v1/imports/${encodeURIComponent(j.id)}/errors.xlsx`} download>${j.rejected}</a>` : j.rejected}</td>
          <td>${formatDateTime(j.created_at)}</td></tr>`)}</tbody>
      </table>
    </div>`}
  </section>`;
}
