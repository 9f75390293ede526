// /admin/plugins — Rhai plugins (capability plugin.manage): list with status
// (GET /api/v1/plugins), a source editor with a small hand-written Rhai
// highlighter (a <pre> under a transparent <textarea>), save with the compile
// error's line highlighted (PUT /api/v1/plugins/{name} → 422 "file:line: …"),
// version history with a line diff and rollback behind a confirmation, and a
// "try it" panel (POST /api/v1/plugins/{name}/test) against a real customer.
import { useEffect, useRef, useState } from '../vendor/preact/hooks.module.js';
import { html } from '../html.js';
import { t } from '../i18n/index.js';
import { api } from '../api.js';
import { errorText } from '../errors.js';
import { notePlugins } from '../components/plugin-banner.js';
import { formatDateTime } from '../format.js';
import { LoadError, Loading } from '../components/states.js';
import { ConfirmDialog } from '../components/dialog.js';
import { toast } from '../components/toast.js';

/** What a plugin is for, in the reader's words: the built-ins have a name and a line each, a
 *  firm's report is named by its file; the file and hook ids stay beside them for the technical. */
function about(p) {
  const key = `plugins.about.${p.name}`;
  if (t(`${key}.title`) !== `${key}.title`) return { title: t(`${key}.title`), body: t(`${key}.body`) };
  if (p.name.startsWith('report.')) return { title: t('plugins.about.report', { name: p.name.slice(7) }), body: '' };
  return { title: p.file, body: '' };
}

function hookLabel(h) {
  const key = `plugins.hook.${h}`;
  return t(key) === key ? h : t(key);
}

const KEYWORDS = new Set(['fn', 'let', 'const', 'if', 'else', 'return', 'for', 'in', 'while', 'loop',
  'break', 'continue', 'switch', 'true', 'false', 'throw', 'try', 'catch', 'private', 'this', 'do', 'until']);

function escapeHtml(s) {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Rhai source → HTML with spans for comments, strings, numbers, keywords; `errorLine` marked. */
export function highlightRhai(source, errorLine) {
  const token = /(\/\/[^\n]*|\/\*[\s\S]*?\*\/)|("(?:\\.|[^"\\])*"|`(?:\\.|[^`\\])*`|'(?:\\.|[^'\\])')|(\b\d[\d_]*(?:\.\d+)?\b)|([A-Za-z_][A-Za-z0-9_]*)/g;
  let out = '';
  let last = 0;
  for (const m of source.matchAll(token)) {
    out += escapeHtml(source.slice(last, m.index));
    const text = escapeHtml(m[0]);
    if (m[1]) out += `<span class="tok-comment">${text}</span>`;
    else if (m[2]) out += `<span class="tok-string">${text}</span>`;
    else if (m[3]) out += `<span class="tok-number">${text}</span>`;
    else if (KEYWORDS.has(m[4])) out += `<span class="tok-keyword">${text}</span>`;
    else out += text;
    last = m.index + m[0].length;
  }
  out += escapeHtml(source.slice(last));
  // Lines as blocks so one can be marked; a trailing newline keeps the heights equal.
  return out.split('\n').map((l, i) =>
    `<span class="code-line${i + 1 === errorLine ? ' code-line-error' : ''}">${l || ' '}</span>`).join('');
}

/** Line diff (LCS) of two sources → [{ op: ' '|'+'|'-', text }]. */
export function diffLines(a, b) {
  const x = a.split('\n');
  const y = b.split('\n');
  const n = x.length;
  const m = y.length;
  if (n * m > 400000) return [...x.map((text) => ({ op: '-', text })), ...y.map((text) => ({ op: '+', text }))];
  const dp = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      dp[i][j] = x[i] === y[j] ? dp[i + 1][j + 1] + 1 : Math.max(dp[i + 1][j], dp[i][j + 1]);
    }
  }
  const out = [];
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (x[i] === y[j]) { out.push({ op: ' ', text: x[i] }); i++; j++; }
    else if (dp[i + 1][j] >= dp[i][j + 1]) { out.push({ op: '-', text: x[i] }); i++; }
    else { out.push({ op: '+', text: y[j] }); j++; }
  }
  while (i < n) out.push({ op: '-', text: x[i++] });
  while (j < m) out.push({ op: '+', text: y[j++] });
  return out;
}

/** "pool.rhai:12: message" → 12. */
function lineOf(message) {
  const m = /\.rhai(?: \([^)]*\))?:(\d+):/.exec(message || '');
  return m ? Number(m[1]) : null;
}

/**
 * The running version is named only when the file on disk cannot run and a saved version runs
 * instead (`running: last_good`); after every normal save the API also names the version that
 * runs, which is the file itself.
 */
export function runsSavedVersion(p) {
  return p.running === 'last_good' && Boolean(p.running_version);
}

function statusBadge(p) {
  if (p.status === 'error') {
    return html`<span class="badge badge-error">${t(p.running === 'last_good' ? 'plugins.status.lastGood' : 'plugins.status.error')}</span>`;
  }
  return p.origin === 'default'
    ? html`<span class="badge">${t('plugins.status.default')}</span>`
    : html`<span class="badge badge-success">${t('plugins.status.ok')}</span>`;
}

function Editor({ value, onInput, errorLine }) {
  const pre = useRef(null);
  const sync = (e) => {
    if (pre.current) {
      pre.current.scrollTop = e.target.scrollTop;
      pre.current.scrollLeft = e.target.scrollLeft;
    }
  };
  return html`<div class="code-editor" data-testid="plugin-editor">
    <pre class="code-highlight" ref=${pre} aria-hidden="true"
      dangerouslySetInnerHTML=${{ __html: highlightRhai(value, errorLine) }}></pre>
    <textarea class="code-input" spellcheck="false" value=${value} aria-label=${t('plugins.source')}
      data-testid="plugin-source" onInput=${(e) => { onInput(e.target.value); sync(e); }} onScroll=${sync}></textarea>
  </div>`;
}

function TryPanel({ name, hooks }) {
  const [hook, setHook] = useState(hooks[0] || 'pool.recall');
  const [customerId, setCustomerId] = useState('');
  const [settings, setSettings] = useState('');
  const [result, setResult] = useState(null);
  const [busy, setBusy] = useState(false);
  // can_claim runs with a real claimer's counts in a real pool (both optional).
  const [userId, setUserId] = useState('');
  const [poolId, setPoolId] = useState('');
  const [choices, setChoices] = useState({ users: [], pools: [] });
  const claim = hook === 'pool.can_claim' || hook === 'can_claim';
  // products.score runs against one product.
  const score = hook === 'products.score' || hook === 'score';
  const [productId, setProductId] = useState('');
  const [products, setProducts] = useState(null);
  useEffect(() => {
    if (!score || products) return;
    api('GET', '/api/v1/products?active=true').then((r) => {
      setProducts(r.items);
      if (r.items.length) setProductId(r.items[0].id);
    }).catch((err) => setResult({ failure: errorText(err) }));
  }, [score]);
  useEffect(() => {
    if (!claim || choices.loaded) return;
    Promise.all([
      api('GET', '/api/v1/users').then((r) => r.items || r).catch(() => []),
      api('GET', '/api/v1/pools').catch(() => []),
    ]).then(([users, pools]) => setChoices({ loaded: true, users: users.filter((u) => u.status === 'active'), pools }));
  }, [claim]);
  const run = async (e) => {
    e.preventDefault();
    setBusy(true);
    try {
      const body = { hook, customer_id: customerId.trim() };
      if (settings.trim()) body.pool = JSON.parse(settings);
      if (claim && userId) body.user_id = userId;
      if (claim && poolId) body.pool_id = poolId;
      if (score) body.product_id = productId;
      setResult(await api('POST', `/api/v1/plugins/${name}/test`, body));
    } catch (err) {
      setResult({ failure: err instanceof SyntaxError ? t('plugins.try.badJson') : errorText(err) });
    } finally {
      setBusy(false);
    }
  };
  return html`<form class="card plugin-try" onSubmit=${run} data-testid="plugin-try">
    <h2 class="card-title">${t('plugins.try.title')}</h2>
    <p class="muted">${t('plugins.try.body')}</p>
    <label class="field"><span class="field-label">${t('plugins.try.hook')}</span>
      <select value=${hook} onChange=${(e) => setHook(e.target.value)} data-testid="plugin-try-hook">
        ${hooks.map((h) => html`<option value=${h}>${h}</option>`)}
      </select></label>
    <label class="field"><span class="field-label">${t('plugins.try.customer')}</span>
      <input value=${customerId} required onInput=${(e) => setCustomerId(e.target.value)} data-testid="plugin-try-customer" /></label>
    ${claim && html`<label class="field"><span class="field-label">${t('plugins.try.user')}</span>
      <select value=${userId} onChange=${(e) => setUserId(e.target.value)} data-testid="plugin-try-user">
        <option value="">${t('plugins.try.me')}</option>
        ${choices.users.map((u) => html`<option value=${u.id}>${u.display_name || u.username}</option>`)}
      </select></label>
    <label class="field"><span class="field-label">${t('plugins.try.pool')}</span>
      <select value=${poolId} onChange=${(e) => setPoolId(e.target.value)} data-testid="plugin-try-pool">
        <option value="">${t('plugins.try.settingsPool')}</option>
        ${choices.pools.map((p) => html`<option value=${p.id}>${p.name}</option>`)}
      </select></label>`}
    ${score && html`<label class="field"><span class="field-label">${t('plugins.try.product')}</span>
      <select value=${productId} onChange=${(e) => setProductId(e.target.value)} data-testid="plugin-try-product">
        ${(products || []).map((p) => html`<option value=${p.id}>${p.lender} · ${p.name}</option>`)}
      </select>
      ${products && products.length === 0 && html`<span class="muted">${t('plugins.try.noProducts')}</span>`}</label>`}
    ${!score && html`<label class="field"><span class="field-label">${t('plugins.try.settings')}</span>
      <textarea rows="3" class="mono" placeholder='{"warn_days_before": 5}' value=${settings}
        onInput=${(e) => setSettings(e.target.value)}></textarea></label>`}
    <button class="btn btn-primary" type="submit" disabled=${busy || !customerId.trim()} data-testid="plugin-try-run">
      ${busy ? t('common.working') : t('plugins.try.run')}</button>
    ${result && html`<div class="plugin-try-result" data-testid="plugin-try-result">
      ${result.failure && html`<div class="form-error" role="alert">${result.failure}</div>`}
      ${result.error && html`<div class="form-error" role="alert">${result.error.file}${result.error.line ? `:${result.error.line}` : ''}: ${result.error.message}</div>`}
      ${result.decision && html`<pre class="code-block">${JSON.stringify(result.decision, null, 2)}</pre>`}
      ${result.elapsed_ms != null && html`<p class="muted">${t('plugins.try.elapsed', { ms: result.elapsed_ms })}</p>`}
    </div>`}
  </form>`;
}

function Versions({ name, detail, onRolledBack }) {
  const [shown, setShown] = useState(null);
  const [confirm, setConfirm] = useState(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const show = async (v) => {
    try {
      setShown(await api('GET', `/api/v1/plugins/${name}/versions/${v.id}`));
    } catch (err) {
      toast(errorText(err), { tone: 'error' });
    }
  };
  const rollback = async () => {
    setBusy(true);
    setError(null);
    try {
      const d = await api('POST', `/api/v1/plugins/${name}/rollback`, { version: confirm.id });
      setConfirm(null);
      toast(t('plugins.versions.rolledBack'));
      onRolledBack(d);
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };
  if (!detail.versions.length) return html`<p class="muted">${t('plugins.versions.none')}</p>`;
  return html`<div data-testid="plugin-versions" class="table-scroll">
    <table class="table"><thead><tr>
      <th>${t('plugins.versions.at')}</th><th>${t('plugins.versions.note')}</th><th>${t('plugins.versions.lines')}</th><th></th>
    </tr></thead><tbody>
      ${detail.versions.map((v) => html`<tr key=${v.id}>
        <td class="mono-num">${formatDateTime(v.at)}</td><td>${v.note || '—'}</td><td>${v.lines}</td>
        <td class="row-actions">
          <button class="btn btn-sm" type="button" onClick=${() => show(v)} data-testid="plugin-version-diff">${t('plugins.versions.diff')}</button>
          <button class="btn btn-sm" type="button" onClick=${() => setConfirm(v)} data-testid="plugin-version-rollback">${t('plugins.versions.rollback')}</button>
        </td></tr>`)}
    </tbody></table>
    ${shown && html`<div class="plugin-diff" data-testid="plugin-diff">
      <h3 class="section-title">${t('plugins.versions.diffTitle', { at: formatDateTime(shown.at) })}</h3>
      <pre class="code-block">${diffLines(shown.source, detail.source).map((l) =>
        html`<span class=${l.op === '+' ? 'diff-add' : l.op === '-' ? 'diff-del' : ''}>${l.op} ${l.text}\n</span>`)}</pre>
    </div>`}
    ${confirm && html`<${ConfirmDialog} title=${t('plugins.versions.confirmTitle')} danger=${false}
      body=${t('plugins.versions.confirmBody', { at: formatDateTime(confirm.at) })}
      confirmLabel=${t('plugins.versions.rollback')} busy=${busy} error=${error}
      onConfirm=${rollback} onClose=${() => { setConfirm(null); setError(null); }} />`}
  </div>`;
}

function PluginEditor({ name, onSaved }) {
  const [detail, setDetail] = useState(null);
  const [loadError, setLoadError] = useState(null);
  const [source, setSource] = useState('');
  const [saveError, setSaveError] = useState(null);
  const [testsFailed, setTestsFailed] = useState(false);
  const [busy, setBusy] = useState(false);
  const load = async () => {
    setLoadError(null);
    try {
      const d = await api('GET', `/api/v1/plugins/${name}`);
      setDetail(d);
      setSource(d.source);
    } catch (err) {
      setLoadError(err);
    }
  };
  useEffect(() => { setDetail(null); setSaveError(null); load(); }, [name]);
  if (loadError) return html`<${LoadError} error=${loadError} onRetry=${load} />`;
  if (!detail) return html`<${Loading} />`;
  const save = async (force) => {
    setBusy(true);
    setSaveError(null);
    setTestsFailed(false);
    try {
      const d = await api('PUT', `/api/v1/plugins/${name}${force ? '?force=true' : ''}`, { source });
      setDetail(d);
      toast(t('plugins.saved'));
      onSaved();
    } catch (err) {
      const located = err.code === 'plugin_compile' || err.code === 'plugin_tests_failed';
      setSaveError(located ? err.message : errorText(err));
      setTestsFailed(err.code === 'plugin_tests_failed');
    } finally {
      setBusy(false);
    }
  };
  const errorLine = lineOf(saveError) ?? (detail.error && source === detail.source ? detail.error.line : null);
  return html`<div class="plugin-editor" data-testid="plugin-detail">
    <div class="card">
      <div class="card-head-row">
        <h2 class="card-title">${about({ ...detail, name }).title} <span class="mono muted plugin-file">${detail.file}</span></h2>
        ${statusBadge(detail)}
      </div>
      ${detail.error && html`<div class="form-error" role="alert" data-testid="plugin-status-error">
        ${t('plugins.runningError')} ${detail.error.file}${detail.error.line ? `:${detail.error.line}` : ''}: ${detail.error.message}</div>`}
      ${runsSavedVersion(detail) && html`<p class="muted" data-testid="plugin-running-version">
        ${t('plugins.runningVersion', { version: detail.running_version })}</p>`}
      ${detail.warnings.map((w) => html`<p class="muted">${w}</p>`)}
      <${RunErrors} detail=${detail} />
      <${Editor} value=${source} onInput=${setSource} errorLine=${errorLine} />
      ${saveError && html`<div class="form-error" role="alert" data-testid="plugin-save-error">${saveError}</div>`}
      ${testsFailed && html`<p class="muted">${t('plugins.forceHint')}</p>`}
      <div class="form-actions">
        ${detail.default_source && html`<button class="btn" type="button" onClick=${() => setSource(detail.default_source)}>
          ${t('plugins.loadDefault')}</button>`}
        ${testsFailed && html`<button class="btn btn-danger" type="button" onClick=${() => save(true)} disabled=${busy}
          data-testid="plugin-force-save">${t('plugins.forceSave')}</button>`}
        <button class="btn btn-primary" type="button" onClick=${() => save(false)} disabled=${busy || source === detail.source}
          data-testid="plugin-save">${busy ? t('common.working') : t('plugins.save')}</button>
      </div>
    </div>
    <div class="card">
      <h2 class="card-title">${t('plugins.versions.title')}</h2>
      <${Versions} name=${name} detail=${detail} onRolledBack=${(d) => { setDetail(d); setSource(d.source); onSaved(); }} />
    </div>
    ${detail.hooks.length > 0 && !name.startsWith('report.') && html`<${TryPanel} name=${name} hooks=${detail.hooks} />`}
  </div>`;
}

/** Run-time failures since the last save: the count and the latest ones. */
function RunErrors({ detail }) {
  if (!detail.errors_since_save) return null;
  return html`<div class="form-error" role="alert" data-testid="plugin-run-errors">
    <p>${t('plugins.runErrors', { count: detail.errors_since_save })}</p>
    <ul>${detail.recent_errors.slice(0, 5).map((f) => html`<li class="mono">
      ${f.hook} · ${f.file}${f.line ? `:${f.line}` : ''}: ${f.message}${f.record_id ? ` (${t('plugins.runErrorRecord', { id: f.record_id })})` : ''}
    </li>`)}</ul>
  </div>`;
}

/**
 * A new custom report (plugins/reports/<name>.rhai, plugin `report.<name>`): a name and the
 * source, pasted or read from a .rhai file; saved like any plugin (compiled, its inline tests
 * run; a refusal names file and line). It appears in the reports menu at once.
 */
function NewReport({ onCreated, onClose }) {
  const [name, setName] = useState('');
  const [source, setSource] = useState('');
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const valid = /^[a-z0-9_-]{1,64}$/.test(name);
  const readFile = async (e) => {
    const file = e.currentTarget.files?.[0];
    if (!file) return;
    setSource(await file.text());
    if (!name) setName(file.name.replace(/\.rhai$/, '').toLowerCase().replace(/[^a-z0-9_-]/g, '-'));
  };
  const submit = async (e) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await api('PUT', `/api/v1/plugins/report.${name}`, { source, note: t('plugins.newReport.note') });
      toast(t('plugins.saved'));
      onCreated(`report.${name}`);
    } catch (err) {
      const located = err.code === 'plugin_compile' || err.code === 'plugin_tests_failed';
      setError(located ? err.message : errorText(err));
    } finally {
      setBusy(false);
    }
  };
  return html`<form class="card" onSubmit=${submit} data-testid="plugin-new-report">
    <h2 class="card-title">${t('plugins.newReport.title')}</h2>
    <p class="muted">${t('plugins.newReport.body')}</p>
    <label class="field"><span class="field-label">${t('plugins.newReport.name')}</span>
      <input class="input mono" value=${name} required placeholder="weekly-followups"
        onInput=${(e) => setName(e.currentTarget.value.trim())} data-testid="plugin-new-name" />
      <span class="muted">${t('plugins.newReport.file', { file: `reports/${name || '…'}.rhai` })}</span></label>
    <label class="field"><span class="field-label">${t('plugins.newReport.upload')}</span>
      <input type="file" accept=".rhai,text/plain" onChange=${readFile} data-testid="plugin-new-file" /></label>
    <label class="field"><span class="field-label">${t('plugins.source')}</span>
      <textarea class="input mono" rows="12" spellcheck="false" value=${source}
        onInput=${(e) => setSource(e.currentTarget.value)} data-testid="plugin-new-source"></textarea></label>
    ${error && html`<div class="form-error" role="alert" data-testid="plugin-new-error">${error}</div>`}
    <div class="form-actions">
      <button class="btn" type="button" onClick=${onClose}>${t('common.cancel')}</button>
      <button class="btn btn-primary" type="submit" disabled=${busy || !valid || !source.trim()} data-testid="plugin-new-save">
        ${busy ? t('common.working') : t('plugins.save')}</button>
    </div>
  </form>`;
}

export function AdminPluginsPage() {
  const [list, setList] = useState(null);
  const [error, setError] = useState(null);
  const [selected, setSelected] = useState(null);
  const [adding, setAdding] = useState(false);
  const load = async () => {
    setError(null);
    try {
      const l = await api('GET', '/api/v1/plugins');
      setList(l);
      notePlugins(l);
      setSelected((s) => s || l[0]?.name || null);
    } catch (err) {
      setError(err);
    }
  };
  useEffect(() => { load(); }, []);
  return html`<section class="page" data-testid="page-admin-plugins">
    <header class="page-header">
      <h1 class="page-title">${t('plugins.title')}</h1>
      <p class="page-subtitle">${t('plugins.subtitle')}</p>
    </header>
    ${adding && html`<${NewReport} onClose=${() => setAdding(false)}
      onCreated=${(n) => { setAdding(false); setSelected(n); load(); }} />`}
    ${error && html`<${LoadError} error=${error} onRetry=${load} />`}
    ${!error && !list && html`<${Loading} />`}
    ${list && html`<div class="plugins-layout">
      <ul class="plugin-list card" data-testid="plugin-list">
        ${list.map((p) => ({ p, a: about(p) })).map(({ p, a }) => html`<li key=${p.name}>
          <button type="button" class=${`plugin-item${p.name === selected ? ' active' : ''}`}
            onClick=${() => setSelected(p.name)} data-testid=${`plugin-item-${p.name}`}>
            <span class="plugin-title" data-testid="plugin-title">${a.title}</span> ${statusBadge(p)}
            ${a.body && html`<span class="muted plugin-about">${a.body}</span>`}
            <span class="muted plugin-hooks"><span class="mono">${p.file}</span>${p.hooks.length > 0 && ` · ${p.hooks.map(hookLabel).join('、')}`}</span>
          </button></li>`)}
        <li class="plugin-list-foot"><button type="button" class="btn btn-sm" onClick=${() => setAdding(true)}
          data-testid="plugin-new-report-open">${t('plugins.newReport.open')}</button></li>
      </ul>
      ${selected && html`<${PluginEditor} name=${selected} onSaved=${load} />`}
    </div>`}
  </section>`;
}
