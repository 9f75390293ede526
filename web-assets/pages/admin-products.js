// /admin/products — credit products, capability product.manage: the list (active
// first), create and edit in one dialog (terms, admission requirements, documents, fees),
// deactivate/activate with a confirmation, and the version history. Amounts are typed in wan
// (10,000 yuan; loan amounts) or yuan (income, fees), rates in percent; sent as fen and basis points
// (money.js, exact). A server error names the field by its path, shown next to that field.
import { useEffect, useState } from '../vendor/preact/hooks.module.js';
import { html } from '../html.js';
import { t } from '../i18n/index.js';
import { api } from '../api.js';
import { errorText } from '../errors.js';
import { Field } from '../components/field.js';
import { Checkbox, CheckboxGroup, SelectField } from '../components/form.js';
import { ConfirmDialog, Dialog, FormDialog } from '../components/dialog.js';
import { EmptyState, LoadError, Loading } from '../components/states.js';
import { toast } from '../components/toast.js';
import { formatDateTime } from '../format.js';
import {
  fenToWan, fenToYuan, formatBpPercent, parsePercentToBp, parseWanToFen, parseYuanToFen,
} from '../money.js';
import { moneyHint } from '../components/money-hint.js';

export const CATEGORIES = ['credit', 'mortgage', 'car', 'business', 'tax', 'provident_fund', 'policy', 'other'];
const METHODS = ['annuity', 'equal_principal', 'interest_only', 'bullet'];
const OCCUPATIONS = ['employee', 'civil_servant', 'business_owner', 'freelancer', 'other'];
const RATINGS = ['A', 'B', 'M', 'C', 'D'];

// kind: text | wan | yuan | int | pct (percent → bp) | bool | list (comma separated) | methods |
// occupations | category | rating
const TERMS = [
  { path: 'name', kind: 'text', required: true },
  { path: 'lender', kind: 'text', required: true },
  { path: 'category', kind: 'category' },
  { path: 'min_amount_fen', kind: 'wan', required: true },
  { path: 'max_amount_fen', kind: 'wan', required: true },
  { path: 'min_term_months', kind: 'int', required: true },
  { path: 'max_term_months', kind: 'int', required: true },
  { path: 'min_rate_bp', kind: 'pct', required: true },
  { path: 'max_rate_bp', kind: 'pct', required: true },
  { path: 'methods', kind: 'methods' },
  { path: 'required_documents', kind: 'list' },
  { path: 'rebate_bp', kind: 'pct' },
  { path: 'notes', kind: 'text' },
];
const REQUIREMENTS = [
  'min_age:int', 'max_age:int', 'cities:list', 'occupations:occupations',
  'min_monthly_income_fen:yuan', 'min_social_security_months:int', 'min_provident_fund_months:int',
  'min_provident_fund_base_fen:yuan', 'requires_property:bool', 'property_unmortgaged:bool', 'requires_car:bool',
  'max_overdue_2y:int', 'no_current_overdue:bool', 'max_inquiries_1m:int', 'max_inquiries_3m:int',
  'max_inquiries_6m:int', 'max_debt_income_pct:pct', 'max_card_utilization_pct:int',
  'min_license_months:int', 'min_tax_rating:rating', 'min_annual_tax_fen:yuan', 'min_annual_turnover_fen:yuan',
].map((s) => { const [k, kind] = s.split(':'); return { path: `requirements.${k}`, kind }; });
const ALL = [...TERMS, ...REQUIREMENTS];

function get(o, path) {
  return path.split('.').reduce((x, k) => (x == null ? undefined : x[k]), o) ?? null;
}
function put(o, path, v) {
  const keys = path.split('.');
  let x = o;
  for (const k of keys.slice(0, -1)) x = (x[k] ??= {});
  x[keys[keys.length - 1]] = v;
}

function toForm(p) {
  const f = {};
  for (const d of ALL) {
    const v = p ? get(p, d.path) : null;
    if (d.kind === 'bool') f[d.path] = !!v;
    else if (d.kind === 'methods') f[d.path] = v || ['annuity'];
    else if (d.kind === 'occupations') f[d.path] = v || [];
    else if (d.kind === 'list') f[d.path] = (v || []).join('，');
    else if (v == null) f[d.path] = d.kind === 'category' ? 'credit' : '';
    else if (d.kind === 'wan') f[d.path] = fenToWan(v);
    else if (d.kind === 'yuan') f[d.path] = fenToYuan(v);
    else if (d.kind === 'pct') f[d.path] = formatBpPercent(v).replace('%', '');
    else f[d.path] = String(v);
  }
  const fee = p?.fee;
  f.fee_kind = fee ? fee.kind : '';
  f.fee_value = !fee ? '' : fee.kind === 'fixed' ? fenToYuan(fee.amount_fen) : formatBpPercent(fee.rate_bp).replace('%', '');
  f.active = p ? p.active : true;
  return f;
}

/** The form → the request body, or client-side errors by path. */
function fromForm(f) {
  const body = { requirements: {}, fee: null, active: f.active };
  const errors = {};
  for (const d of ALL) {
    const raw = typeof f[d.path] === 'string' ? f[d.path].trim() : f[d.path];
    let v = null;
    switch (d.kind) {
      case 'bool': case 'methods': case 'occupations': v = raw; break;
      case 'list': v = raw.split(/[,，、\n]/).map((s) => s.trim()).filter(Boolean); break;
      case 'text': case 'category': case 'rating': v = raw === '' ? null : raw; break;
      case 'wan': v = parseWanToFen(raw); break;
      case 'yuan': v = parseYuanToFen(raw); break;
      case 'pct': v = parsePercentToBp(raw); break;
      default: v = raw === '' ? null : (/^\d+$/.test(raw) ? Number(raw) : undefined);
    }
    if (v === undefined) errors[d.path] = t('product.error.number');
    else if (v === null && d.required) errors[d.path] = t('product.error.required');
    else put(body, d.path, v);
  }
  if (f.fee_kind) {
    const v = f.fee_kind === 'fixed' ? parseYuanToFen(f.fee_value) : parsePercentToBp(f.fee_value);
    if (v == null) errors.fee_value = t('product.error.number');
    else body.fee = f.fee_kind === 'fixed' ? { kind: 'fixed', amount_fen: v } : { kind: 'rate', rate_bp: v };
  }
  return { body, errors };
}

function label(path) {
  return t(`product.f.${path.replace('requirements.', 'r.')}`);
}

function FieldFor({ d, f, set, errors }) {
  const id = `product-${d.path.replaceAll('.', '-')}`;
  const err = errors[d.path];
  const unit = { wan: t('product.unit.wan'), yuan: t('product.unit.yuan'), pct: t('product.unit.pct') }[d.kind];
  switch (d.kind) {
    case 'bool':
      return html`<${Checkbox} id=${id} label=${label(d.path)} checked=${f[d.path]} onChange=${set(d.path)} testid=${id} />`;
    case 'methods':
      return html`<${CheckboxGroup} id=${id} legend=${label(d.path)} columns=${2} value=${f[d.path]} onChange=${set(d.path)} error=${err} testid=${id}
        options=${METHODS.map((m) => ({ value: m, label: t(`calc.method.${m}`) }))} />`;
    case 'occupations':
      return html`<${CheckboxGroup} id=${id} legend=${label(d.path)} columns=${3} value=${f[d.path]} onChange=${set(d.path)} error=${err} testid=${id}
        hint=${t('product.anyHint')} options=${OCCUPATIONS.map((o) => ({ value: o, label: t(`q.occupation.${o}`) }))} />`;
    case 'category':
      return html`<${SelectField} id=${id} label=${label(d.path)} value=${f[d.path]} onChange=${set(d.path)} error=${err} testid=${id}
        options=${CATEGORIES.map((c) => ({ value: c, label: t(`product.category.${c}`) }))} />`;
    case 'rating':
      return html`<${SelectField} id=${id} label=${label(d.path)} value=${f[d.path]} onChange=${set(d.path)} error=${err} testid=${id}
        options=${[{ value: '', label: t('product.noRequirement') }, ...RATINGS.map((r) => ({ value: r, label: r }))]} />`;
    default:
      return html`<${Field} id=${id} label=${unit ? `${label(d.path)}（${unit}）` : label(d.path)} value=${f[d.path]} onInput=${set(d.path)}
        error=${err} testid=${id} required=${!!d.required} inputMode=${d.kind === 'text' || d.kind === 'list' ? undefined : 'decimal'}
        hint=${d.kind === 'list' ? t('product.listHint') : d.kind === 'wan' || d.kind === 'yuan' ? moneyHint(f[d.path], d.kind) : undefined} />`;
  }
}

function ProductDialog({ product, onClose, onSaved }) {
  const [f, setF] = useState(toForm(product));
  const [errors, setErrors] = useState({});
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const set = (k) => (v) => setF((x) => ({ ...x, [k]: v }));
  const onSubmit = async () => {
    const { body, errors: local } = fromForm(f);
    setErrors(local);
    if (Object.keys(local).length) return;
    setBusy(true);
    setError(null);
    try {
      if (product) await api('PUT', `/api/v1/products/${encodeURIComponent(product.id)}`, body);
      else await api('POST', '/api/v1/products', body);
      toast(t('product.saved'));
      onSaved();
    } catch (e) {
      setBusy(false);
      const path = e.field === 'fee.rate_bp' || e.field === 'fee.amount_fen' ? 'fee_value' : e.field;
      if (path && (ALL.some((d) => d.path === path) || path === 'fee_value')) setErrors({ [path]: e.message || errorText(e) });
      else setError(errorText(e));
    }
  };
  const grid = (ds) => html`<div class="form-grid">${ds.map((d) => html`<${FieldFor} key=${d.path} d=${d} f=${f} set=${set} errors=${errors} />`)}</div>`;
  return html`<${FormDialog} title=${product ? t('product.edit') : t('product.create')} onClose=${onClose} onSubmit=${onSubmit}
    busy=${busy} error=${error} testid="product-dialog" size="lg">
    <h3 class="card-title">${t('product.section.terms')}</h3>
    ${grid(TERMS.slice(0, 9))}
    <${FieldFor} d=${TERMS[9]} f=${f} set=${set} errors=${errors} />
    <h3 class="card-title">${t('product.section.requirements')}</h3>
    <p class="field-hint">${t('product.requirementsHint')}</p>
    ${grid(REQUIREMENTS)}
    <h3 class="card-title">${t('product.section.fees')}</h3>
    <div class="form-grid">
      <${SelectField} id="product-fee-kind" label=${t('product.f.service_fee')} value=${f.fee_kind} onChange=${set('fee_kind')} testid="product-fee-kind"
        options=${[{ value: '', label: t('product.fee.none') }, { value: 'fixed', label: t('product.fee.fixed') }, { value: 'rate', label: t('product.fee.rate') }]} />
      ${f.fee_kind && html`<${Field} id="product-fee-value" label=${f.fee_kind === 'fixed' ? t('product.fee.fixedValue') : t('product.fee.rateValue')}
        value=${f.fee_value} onInput=${set('fee_value')} error=${errors.fee_value} testid="product-fee-value" inputMode="decimal" />`}
      <${FieldFor} d=${TERMS[11]} f=${f} set=${set} errors=${errors} />
    </div>
    <${FieldFor} d=${TERMS[10]} f=${f} set=${set} errors=${errors} />
    <${FieldFor} d=${TERMS[12]} f=${f} set=${set} errors=${errors} />
    <${Checkbox} id="product-active" label=${t('product.f.active')} checked=${f.active} onChange=${set('active')} testid="product-active" />
  <//>`;
}

function Versions({ product, onClose }) {
  const [state, setState] = useState({ status: 'loading' });
  useEffect(() => {
    api('GET', `/api/v1/products/${encodeURIComponent(product.id)}/versions`)
      .then((v) => setState({ status: 'ready', v: v.slice().reverse() }))
      .catch((e) => setState({ status: 'error', message: errorText(e) }));
  }, [product.id]);
  return html`<${Dialog} title=${t('product.versions', { name: product.name })} onClose=${onClose} testid="product-versions">
    ${state.status === 'loading' && html`<${Loading} />`}
    ${state.status === 'error' && html`<div class="form-error" role="alert">${state.message}</div>`}
    ${state.status === 'ready' && html`<ol class="version-list">${state.v.map((p) => html`<li key=${p.version}>
      <strong>v${p.version}</strong> · ${formatDateTime(p.updated_at)} · ${fenToWan(p.min_amount_fen)}–${fenToWan(p.max_amount_fen)}${t('product.unit.wan')}
      · ${formatBpPercent(p.min_rate_bp)}–${formatBpPercent(p.max_rate_bp)} · ${p.active ? t('product.active') : t('product.inactive')}</li>`)}</ol>`}
  <//>`;
}

/** The reverse match: which customers in my scope qualify for this product (or need
 * information), a page at a time — the list to work after adding or changing a product. */
function CandidatesDialog({ product, onClose }) {
  const [status, setStatus] = useState('eligible');
  const [state, setState] = useState({ status: 'loading', items: [] });
  const load = (after, items) => {
    setState((s) => ({ ...s, status: 'loading' }));
    const q = `status=${status}&limit=50${after ? `&after=${encodeURIComponent(after)}` : ''}`;
    api('GET', `/api/v1/products/${encodeURIComponent(product.id)}/candidates?${q}`)
      .then((r) => setState({ status: 'ready', r, items: [...items, ...r.items] }))
      .catch((e) => setState({ status: 'error', message: errorText(e), items }));
  };
  useEffect(() => load(null, []), [status]);
  const r = state.r;
  return html`<${Dialog} title=${t('product.candidates.title', { name: product.name })} onClose=${onClose} testid="product-candidates" size="lg">
    ${r && html`<p data-testid="product-candidates-summary">${t('product.candidates.summary', { eligible: r.eligible, info: r.needs_info, scanned: r.scanned })}</p>`}
    <div class="chip-row" role="tablist">
      ${['eligible', 'needs_info'].map((s) => html`<button type="button" role="tab" aria-selected=${status === s}
        class=${`btn btn-sm${status === s ? ' btn-primary' : ''}`} onClick=${() => setStatus(s)} data-testid=${`product-candidates-${s}`}>${t(`product.candidates.${s}`)}</button>`)}
    </div>
    ${state.status === 'error' && html`<div class="form-error" role="alert">${state.message}</div>`}
    ${state.items.length > 0 && html`<div class="table-wrap"><table class="table"><thead><tr>
        <th>${t('product.candidates.name')}</th><th>${t('product.candidates.phone')}</th><th>${t('product.candidates.city')}</th></tr></thead>
      <tbody>${state.items.map((c) => html`<tr key=${c.id} data-testid="product-candidate">
        <td><a href=${`/customers/${encodeURIComponent(c.id)}`}>${c.name}</a></td><td class="mono">${c.phone}</td><td>${c.city || '—'}</td></tr>`)}</tbody></table></div>`}
    ${state.status === 'ready' && state.items.length === 0 && html`<p class="muted" data-testid="product-candidates-none">${t('product.candidates.none')}</p>`}
    ${state.status === 'loading' && html`<${Loading} />`}
    ${r && r.next_after && state.status === 'ready' && html`<button type="button" class="btn" onClick=${() => load(r.next_after, state.items)}
      data-testid="product-candidates-more">${t('product.candidates.more')}</button>`}
  <//>`;
}

/** Import a product sheet: check first (dry run), then import; every bad cell listed. */
function SheetDialog({ onClose, onDone }) {
  const [file, setFile] = useState(null);
  const [report, setReport] = useState(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const send = async (dryRun) => {
    if (!file) {
      setError(t('product.sheet.pick'));
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const form = new FormData();
      form.append('dry_run', dryRun ? 'true' : 'false');
      form.append('file', file);
      const r = await api('POST', '/api/v1/products/import', form);
      setReport(r);
      if (!dryRun && r.errors.length === 0) {
        toast(t('product.sheet.done', { created: r.created, updated: r.updated }));
        onDone();
      }
    } catch (e) {
      setError(errorText(e));
    } finally {
      setBusy(false);
    }
  };
  return html`<${FormDialog} title=${t('product.sheet.title')} onClose=${onClose} onSubmit=${() => send(false)}
    submitLabel=${t('product.sheet.import')} busy=${busy} error=${error} testid="product-sheet" size="lg">
    <p class="field-hint">${t('product.sheet.hint')} <a href="/api/v1/products/sheet-template" download>${t('product.sheet.template')}</a></p>
    <input type="file" accept=".csv,.xlsx" onChange=${(e) => { setFile(e.currentTarget.files[0] || null); setReport(null); }} data-testid="product-sheet-file" />
    <div><button type="button" class="btn" disabled=${busy} onClick=${() => send(true)} data-testid="product-sheet-check">${t('product.sheet.check')}</button></div>
    ${report && html`<div data-testid="product-sheet-report">
      ${report.errors.length === 0
        ? html`<p>${t(report.dry_run ? 'product.sheet.wouldDo' : 'product.sheet.did', { created: report.created, updated: report.updated, unchanged: report.unchanged })}</p>`
        : html`<p class="form-error" role="alert">${t('product.sheet.errors', { n: report.errors.length })}</p>
          <div class="table-wrap"><table class="table"><thead><tr><th>${t('product.sheet.row')}</th><th>${t('product.sheet.column')}</th>
            <th>${t('product.sheet.value')}</th><th>${t('product.sheet.reason')}</th></tr></thead>
            <tbody>${report.errors.map((e, i) => html`<tr key=${i}><td>${e.row}</td><td>${e.column}</td><td>${e.value}</td><td>${e.reason}</td></tr>`)}</tbody></table></div>`}
      ${report.ignored_columns.length > 0 && html`<p class="muted">${t('product.sheet.ignored', { cols: report.ignored_columns.join('、') })}</p>`}
    </div>`}
  <//>`;
}

export function AdminProductsPage() {
  const [state, setState] = useState({ status: 'loading' });
  const [dialog, setDialog] = useState(null);
  const load = () => api('GET', '/api/v1/products')
    .then((r) => setState({ status: 'ready', items: r.items }))
    .catch((e) => setState({ status: 'error', error: e }));
  useEffect(() => { load(); }, []);
  const toggle = async (p) => {
    try {
      const { body } = fromForm({ ...toForm(p), active: !p.active });
      await api('PUT', `/api/v1/products/${encodeURIComponent(p.id)}`, body);
      toast(p.active ? t('product.deactivated') : t('product.activated'));
      setDialog(null);
      load();
    } catch (e) {
      toast(errorText(e), { tone: 'error' });
    }
  };
  if (state.status === 'loading') return html`<${Loading} />`;
  if (state.status === 'error') return html`<${LoadError} error=${state.error} onRetry=${load} />`;
  return html`<section class="page" data-testid="admin-products">
    <header class="page-header">
      <h1 class="page-title">${t('nav.adminProducts')}</h1>
      <div class="page-actions">
        <button type="button" class="btn" onClick=${() => setDialog({ kind: 'sheet' })} data-testid="product-sheet-open">${t('product.sheet.title')}</button>
        <button type="button" class="btn btn-primary" onClick=${() => setDialog({ kind: 'edit' })}
        data-testid="product-create">${t('product.create')}</button></div>
    </header>
    ${state.items.length === 0
      ? html`<${EmptyState} icon="inbox" title=${t('product.empty.title')} body=${t('product.empty.body')} testid="products-empty" />`
      : html`<div class="card table-wrap"><table class="table" data-testid="products-table">
        <thead><tr><th>${t('product.f.name')}</th><th>${t('product.f.lender')}</th><th>${t('product.f.category')}</th>
          <th>${t('product.col.amount')}</th><th>${t('product.col.term')}</th><th>${t('product.col.rate')}</th><th>${t('product.col.status')}</th><th></th></tr></thead>
        <tbody>${state.items.map((p) => html`<tr key=${p.id} data-testid="product-row" class=${p.active ? '' : 'is-muted'}>
          <td>${p.name}</td><td>${p.lender}</td><td>${t(`product.category.${p.category}`)}</td>
          <td>${fenToWan(p.min_amount_fen)}–${fenToWan(p.max_amount_fen)}${t('product.unit.wan')}</td>
          <td>${p.min_term_months}–${p.max_term_months}${t('product.unit.months')}</td>
          <td>${formatBpPercent(p.min_rate_bp)}–${formatBpPercent(p.max_rate_bp)}</td>
          <td>${p.active ? t('product.active') : t('product.inactive')} · v${p.version}</td>
          <td class="row-actions">
            <button type="button" class="btn btn-sm" onClick=${() => setDialog({ kind: 'edit', p })} data-testid="product-edit">${t('common.edit')}</button>
            <button type="button" class="btn btn-sm" onClick=${() => setDialog({ kind: 'candidates', p })} data-testid="product-candidates-open">${t('product.candidates.open')}</button>
            <button type="button" class="btn btn-sm" onClick=${() => setDialog({ kind: 'versions', p })}>${t('product.history')}</button>
            <button type="button" class="btn btn-sm" onClick=${() => (p.active ? setDialog({ kind: 'deactivate', p }) : toggle(p))}
              data-testid="product-toggle">${p.active ? t('product.deactivate') : t('product.activate')}</button>
          </td></tr>`)}</tbody></table></div>`}
    ${dialog?.kind === 'edit' && html`<${ProductDialog} product=${dialog.p} onClose=${() => setDialog(null)} onSaved=${() => { setDialog(null); load(); }} />`}
    ${dialog?.kind === 'versions' && html`<${Versions} product=${dialog.p} onClose=${() => setDialog(null)} />`}
    ${dialog?.kind === 'candidates' && html`<${CandidatesDialog} product=${dialog.p} onClose=${() => setDialog(null)} />`}
    ${dialog?.kind === 'sheet' && html`<${SheetDialog} onClose=${() => setDialog(null)} onDone=${() => load()} />`}
    ${dialog?.kind === 'deactivate' && html`<${ConfirmDialog} title=${t('product.deactivateTitle', { name: dialog.p.name })}
      body=${t('product.deactivateBody')} confirmLabel=${t('product.deactivate')} onClose=${() => setDialog(null)}
      onConfirm=${() => toggle(dialog.p)} testid="product-deactivate-confirm" />`}
  </section>`;
}
