// The customer's loan need and qualification profile: shown in groups on the customer
// page and edited in one compact dialog. Money is typed in yuan and sent as integer fen
// (money.js); enums and yes/no are selects, yes/no with "not filled" for null. A server
// validation error names the field by its dotted path, which is the form field's id here.
import { useState } from '../vendor/preact/hooks.module.js';
import { html } from '../html.js';
import { t } from '../i18n/index.js';
import { api } from '../api.js';
import { fenToWan, fenToYuan, parseWanToFen, parseYuanToFen } from '../money.js';
import { moneyHint } from './money-hint.js';
import { Field } from './field.js';
import { SelectField } from './form.js';
import { FormDialog } from './dialog.js';
import { EditConflict, customerErrorText, orDash } from './customers.js';

const OCCUPATIONS = [
  { value: 'employee', labelKey: 'q.occupation.employee' },
  { value: 'civil_servant', labelKey: 'q.occupation.civil_servant' },
  { value: 'business_owner', labelKey: 'q.occupation.business_owner' },
  { value: 'freelancer', labelKey: 'q.occupation.freelancer' },
  { value: 'other', labelKey: 'q.occupation.other' },
];
const TAX_RATINGS = ['A', 'B', 'C', 'D', 'M'].map((v) => ({ value: v, label: v }));

// kind: money (fen, typed in yuan) | months | count | pct | bool | occupation | tax | text
export const GROUPS = [
  { titleKey: 'q.group.demand', fields: [
    { path: 'demand.amount_fen', kind: 'money', labelKey: 'q.f.amount' },
    { path: 'demand.term_months', kind: 'months', labelKey: 'q.f.term' },
    { path: 'demand.purpose', kind: 'text', labelKey: 'q.f.purpose' },
  ] },
  { titleKey: 'q.group.work', fields: [
    { path: 'profile.occupation', kind: 'occupation', labelKey: 'q.f.occupation' },
    { path: 'profile.monthly_income_fen', kind: 'money', labelKey: 'q.f.income' },
  ] },
  { titleKey: 'q.group.funds', fields: [
    { path: 'profile.social_security_months', kind: 'months', labelKey: 'q.f.socialSecurity' },
    { path: 'profile.provident_fund_months', kind: 'months', labelKey: 'q.f.providentFund' },
    { path: 'profile.provident_fund_base_fen', kind: 'money', labelKey: 'q.f.providentBase' },
  ] },
  { titleKey: 'q.group.assets', fields: [
    { path: 'profile.has_property', kind: 'bool', labelKey: 'q.f.hasProperty' },
    { path: 'profile.property_value_fen', kind: 'money', labelKey: 'q.f.propertyValue' },
    { path: 'profile.property_mortgaged', kind: 'bool', labelKey: 'q.f.mortgaged' },
    { path: 'profile.has_car', kind: 'bool', labelKey: 'q.f.hasCar' },
    { path: 'profile.car_value_fen', kind: 'money', labelKey: 'q.f.carValue' },
  ] },
  { titleKey: 'q.group.credit', fields: [
    { path: 'profile.credit.overdue_count_2y', kind: 'count', labelKey: 'q.f.overdue2y' },
    { path: 'profile.credit.current_overdue', kind: 'bool', labelKey: 'q.f.currentOverdue' },
    { path: 'profile.credit.inquiries_1m', kind: 'count', labelKey: 'q.f.inquiries1m' },
    { path: 'profile.credit.inquiries_3m', kind: 'count', labelKey: 'q.f.inquiries3m' },
    { path: 'profile.credit.inquiries_6m', kind: 'count', labelKey: 'q.f.inquiries6m' },
    { path: 'profile.credit.existing_debt_fen', kind: 'money', labelKey: 'q.f.debt' },
    { path: 'profile.credit.card_utilization_pct', kind: 'pct', labelKey: 'q.f.cardUtilization' },
  ] },
  { titleKey: 'q.group.business', fields: [
    { path: 'profile.business.licence_age_months', kind: 'months', labelKey: 'q.f.licenceAge' },
    { path: 'profile.business.annual_tax_fen', kind: 'money', labelKey: 'q.f.annualTax' },
    { path: 'profile.business.tax_rating', kind: 'tax', labelKey: 'q.f.taxRating' },
    { path: 'profile.business.annual_turnover_fen', kind: 'money', labelKey: 'q.f.turnover' },
  ] },
];
const ALL = GROUPS.flatMap((g) => g.fields);
const LIMITS = { months: 600, count: 999, pct: 100 };

function get(c, path) {
  return path.split('.').reduce((o, k) => (o == null ? undefined : o[k]), c) ?? null;
}

function put(obj, path, value) {
  const keys = path.split('.');
  let o = obj;
  for (const k of keys.slice(0, -1)) o = (o[k] ??= {});
  o[keys[keys.length - 1]] = value;
}

/** The loan asked for is in wan, as on the card and in the new-customer form; incomes,
 * debts and turnover in yuan. */
function unitOf(f) {
  return f.path === 'demand.amount_fen' ? 'wan' : 'yuan';
}

function display(f, v) {
  if (v == null) return '—';
  switch (f.kind) {
    case 'money':
      return unitOf(f) === 'wan'
        ? t('money.wan', { amount: fenToWan(v) })
        : t('money.yuan', { amount: fenToYuan(v) });
    case 'months': return t('customer.months', { count: v });
    case 'pct': return `${v}%`;
    case 'bool': return v ? t('common.yes') : t('common.no');
    case 'occupation': {
      const o = OCCUPATIONS.find((x) => x.value === v);
      return o ? t(o.labelKey) : v;
    }
    default: return orDash(v);
  }
}

const testid = (path, prefix = 'q') => `${prefix}-${path.replaceAll('.', '-').replaceAll('_', '-')}`;

/** The card on the customer page: every group, with an edit button when allowed. */
export function QualificationCard({ c, canEdit, onEdit }) {
  return html`<div class="card" data-testid="customer-demand">
    ${GROUPS.map((g, i) => html`<div key=${g.titleKey} class="q-group">
      <div class="q-group-head">
        <h2 class="card-title">${t(g.titleKey)}</h2>
        ${i === 0 && canEdit && html`<button type="button" class="btn btn-sm" onClick=${onEdit}
          data-testid="qualification-edit">${t('q.edit')}</button>`}
      </div>
      <dl class="desc-list">
        ${g.fields.map((f) => html`<dt key=${`t-${f.path}`}>${t(f.labelKey)}</dt>
          <dd key=${`d-${f.path}`} data-testid=${f.path === 'demand.amount_fen' ? 'customer-amount' : testid(f.path)}>${display(f, get(c, f.path))}</dd>`)}
      </dl>
    </div>`)}
  </div>`;
}

function initial(c) {
  const v = {};
  for (const f of ALL) {
    const x = get(c, f.path);
    if (x == null) v[f.path] = '';
    else if (f.kind === 'money') v[f.path] = unitOf(f) === 'wan' ? fenToWan(x) : fenToYuan(x);
    else v[f.path] = String(x);
  }
  return v;
}

/** The form's values → the PATCH body, or the client-side errors by path. */
export function toBody(values) {
  const body = { demand: {}, profile: { credit: {}, business: {} } };
  const errors = {};
  for (const f of ALL) {
    const raw = values[f.path].trim();
    let v = null;
    if (raw !== '') {
      if (f.kind === 'money') {
        v = unitOf(f) === 'wan' ? parseWanToFen(raw) : parseYuanToFen(raw);
        if (v === undefined) errors[f.path] = t('q.error.money');
      } else if (f.kind in LIMITS) {
        v = /^\d+$/.test(raw) ? Number(raw) : undefined;
        if (v === undefined || v > LIMITS[f.kind]) errors[f.path] = t('q.error.range', { max: LIMITS[f.kind] });
      } else if (f.kind === 'bool') {
        v = raw === 'true';
      } else {
        v = raw;
      }
    }
    put(body, f.path, v);
  }
  return { body, errors };
}

/** The compact edit dialog. */
export function QualificationDialog({ customer: opened, onClose, onDone }) {
  // The copy the edit is made on (as opened, or reloaded after a conflict): its updated_at goes
  // with the save, so someone else's newer values are not overwritten without a word.
  const [customer, setCustomer] = useState(opened);
  const [stale, setStale] = useState(null);
  const [values, setValues] = useState(() => initial(opened));
  const [errors, setErrors] = useState({});
  const [formError, setFormError] = useState(null);
  const [busy, setBusy] = useState(false);
  const set = (path) => (value) => {
    setValues((v) => ({ ...v, [path]: value }));
    setErrors((e) => ({ ...e, [path]: null }));
  };
  const submit = async (overwrite = null) => {
    setFormError(null);
    const { body, errors: found } = toBody(values);
    setErrors(found);
    if (Object.keys(found).length) return;
    body.expected_updated_at = overwrite || customer.updated_at;
    setBusy(true);
    try {
      const saved = await api('PATCH', `/api/v1/customers/${encodeURIComponent(customer.id)}`, body);
      setBusy(false);
      onDone(saved);
    } catch (error) {
      setBusy(false);
      if (error.code === 'edit_conflict' && error.details) {
        setStale(error.details);
        return;
      }
      setStale(null);
      if (error.code === 'validation' && error.field in values) {
        setErrors({ [error.field]: customerErrorText(error) });
      } else {
        setFormError(customerErrorText(error));
      }
    }
  };
  const control = (f) => {
    const common = {
      id: f.path, label: t(f.labelKey), value: values[f.path], error: errors[f.path], testid: testid(f.path, 'qf'),
    };
    const empty = { value: '', label: t('q.unset') };
    switch (f.kind) {
      case 'bool':
        return html`<${SelectField} ...${common} onChange=${set(f.path)}
          options=${[empty, { value: 'true', label: t('common.yes') }, { value: 'false', label: t('common.no') }]} />`;
      case 'occupation':
        return html`<${SelectField} ...${common} onChange=${set(f.path)}
          options=${[empty, ...OCCUPATIONS.map((o) => ({ value: o.value, label: t(o.labelKey) }))]} />`;
      case 'tax':
        return html`<${SelectField} ...${common} onChange=${set(f.path)} options=${[empty, ...TAX_RATINGS]} />`;
      case 'text':
        return html`<${Field} ...${common} onInput=${set(f.path)} required=${false} maxLength=${64} />`;
      case 'money':
        return html`<${Field} ...${common}
          label=${t(unitOf(f) === 'wan' ? 'q.inWan' : 'q.inYuan', { label: t(f.labelKey) })} onInput=${set(f.path)}
          required=${false} inputMode="decimal" hint=${moneyHint(values[f.path], unitOf(f))} />`;
      default:
        return html`<${Field} ...${common} onInput=${set(f.path)} required=${false} inputMode="numeric" />`;
    }
  };
  return html`<${FormDialog} title=${t('q.title', { name: customer.name })} onClose=${onClose} onSubmit=${submit}
    busy=${busy} error=${formError} size="lg" testid="qualification-dialog">
    ${stale && html`<${EditConflict} stale=${stale} busy=${busy}
      onReload=${() => { setCustomer(stale.current); setValues(initial(stale.current)); setErrors({}); setStale(null); }}
      onOverwrite=${() => { const at = stale.updated_at; setStale(null); submit(at); }} />`}
    ${GROUPS.map((g) => html`<div key=${g.titleKey}>
      <h3 class="form-section-title">${t(g.titleKey)}</h3>
      <div class="form-grid form-grid-3">${g.fields.map((f) => html`<div key=${f.path}>${control(f)}</div>`)}</div>
    </div>`)}
  <//>`;
}
