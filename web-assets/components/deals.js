// Deals (deals) pieces shared by the board, the list, the deal page and the customer page:
// stage names and badges, the move dialog (the fields a stage needs, the server's refusal
// shown next to the field it names, the manager's override), the new-deal dialog (product
// picker from the active products) and the customer's deals card.
import { useEffect, useState } from '../vendor/preact/hooks.module.js';
import { html } from '../html.js';
import { t } from '../i18n/index.js';
import { api } from '../api.js';
import { can } from '../auth.js';
import { placeError } from '../errors.js';
import { addMonthsIso, todayIso } from '../format.js';
import { formatYuan, parsePercentToBp, parseYuanToFen } from '../money.js';
import { moneyHint } from './money-hint.js';
import { Field } from './field.js';
import { Checkbox, SelectField } from './form.js';
import { FormDialog } from './dialog.js';
import { Icon } from './icons.js';
import { toast } from './toast.js';

/** The pipeline in board order, then the two closed-lost stages. */
export const DEAL_STAGES = [
  { value: 'invited', tone: 'info' },
  { value: 'visited', tone: 'info' },
  { value: 'signed', tone: 'warning' },
  { value: 'submitted', tone: 'warning' },
  { value: 'approved', tone: 'warning' },
  { value: 'disbursed', tone: 'success' },
  { value: 'fee_collected', tone: 'success' },
  { value: 'rejected', tone: 'danger' },
  { value: 'withdrawn', tone: 'muted' },
];

export function dealStageLabel(stage) {
  return t(`deals.stage.${stage}`);
}

export function DealStageBadge({ stage }) {
  const s = DEAL_STAGES.find((x) => x.value === stage);
  return html`<span class=${`badge badge-stage badge-${s ? s.tone : 'muted'}`} data-deal-stage=${stage}>${dealStageLabel(stage)}</span>`;
}

export const yuan = (fen) => `¥${formatYuan(fen)}`;

const METHODS = ['annuity', 'equal_principal', 'interest_only', 'bullet'];

// Form field ← the API field it fills.
const FORM_FIELD = {
  approved_amount_fen: 'approvedAmount', approved_term_months: 'approvedTerm', approved_rate_bp: 'approvedRate',
  disbursed_amount_fen: 'disbursedAmount', disbursed_on: 'disbursedOn', rate_bp: 'rate', term_months: 'term',
  method: 'method', first_repayment_date: 'firstDate', reason: 'reason', override: 'override', note: 'note',
};

/** The fields the form shows for a move to `to`. */
function fieldsFor(to, mayOverride) {
  switch (to) {
    case 'approved': return ['approvedAmount', 'approvedTerm', 'approvedRate', 'note'];
    case 'disbursed': return ['disbursedAmount', 'disbursedOn', 'rate', 'term', 'method', 'firstDate', 'note'];
    case 'rejected':
    case 'withdrawn': return ['reason'];
    case 'signed': return mayOverride ? ['override', 'reason', 'note'] : ['note'];
    default: return ['note'];
  }
}

/** Does a move to `to` need the form (rather than moving at once)? Signing always does:
 * without a contract, the server refuses unless a manager overrides. */
export function moveNeedsForm(to) {
  return ['approved', 'disbursed', 'rejected', 'withdrawn', 'signed'].includes(to);
}

function toBody(to, v) {
  const body = { stage: to };
  const errors = {};
  const money = (name, field) => {
    const fen = parseYuanToFen(v[name]);
    if (fen === null) return;
    if (fen === undefined || fen < 1) errors[name] = t('deals.move.badAmount');
    else body[field] = fen;
  };
  const months = (name, field) => {
    const s = (v[name] || '').trim();
    if (!s) return;
    if (!/^\d+$/.test(s)) errors[name] = t('newDeal.badTerm');
    else body[field] = Number(s);
  };
  const rate = (name, field) => {
    const bp = parsePercentToBp(v[name]);
    if (bp === null) return;
    if (bp === undefined) errors[name] = t('deals.move.badRate');
    else body[field] = bp;
  };
  if (to === 'approved') {
    money('approvedAmount', 'approved_amount_fen');
    months('approvedTerm', 'approved_term_months');
    rate('approvedRate', 'approved_rate_bp');
  }
  if (to === 'disbursed') {
    money('disbursedAmount', 'disbursed_amount_fen');
    if (v.disbursedOn) body.disbursed_on = v.disbursedOn;
    rate('rate', 'rate_bp');
    months('term', 'term_months');
    if (v.method) body.method = v.method;
    if (v.firstDate) body.first_repayment_date = v.firstDate;
  }
  if (v.reason.trim()) body.reason = v.reason.trim();
  if (v.note.trim()) body.note = v.note.trim();
  if (to === 'signed' && v.override) body.override = true;
  return { body, errors };
}

/**
 * Moves `deal` to `to`. Stages without fields move at once (onDone(saved)); the others
 * open this dialog; a refusal is shown next to the field the server names.
 */
export function MoveDialog({ deal, to, onClose, onDone }) {
  const today = todayIso();
  const [values, setValues] = useState({
    approvedAmount: '', approvedTerm: '', approvedRate: '',
    disbursedAmount: deal.approval ? String(deal.approval.amount_fen / 100) : '',
    disbursedOn: today, rate: deal.approval && deal.approval.rate_bp != null ? String(deal.approval.rate_bp / 100) : '',
    term: String((deal.approval && deal.approval.term_months) || deal.term_months || ''),
    method: 'annuity', firstDate: addMonthsIso(today, 1), reason: '', note: '', override: false,
  });
  const [errors, setErrors] = useState({});
  const [formError, setFormError] = useState(null);
  const [busy, setBusy] = useState(false);
  const shown = fieldsFor(to, deal.may_override);
  const set = (name) => (value) => setValues((v) => ({ ...v, [name]: value }));

  const submit = async () => {
    const { body, errors: local } = toBody(to, values);
    setErrors(local);
    setFormError(null);
    if (Object.keys(local).length) return;
    setBusy(true);
    try {
      const saved = await api('POST', `/api/v1/deals/${encodeURIComponent(deal.id)}/stage`, body);
      toast(t('deals.move.done', { stage: dealStageLabel(to) }));
      onDone(saved);
    } catch (error) {
      setBusy(false);
      const apiField = error.field || (error.details && error.details.field) || null;
      const formField = apiField && FORM_FIELD[apiField];
      const { text } = placeError(error, []);
      if (formField && shown.includes(formField)) setErrors({ [formField]: text });
      else setFormError(text);
    }
  };

  const id = (name) => `deal-move-${name}`;
  const field = (name, label, extra = {}) => html`<${Field} id=${id(name)} label=${label} value=${values[name]}
    onInput=${set(name)} error=${errors[name]} testid=${id(name)} required=${false} ...${extra} />`;
  return html`<${FormDialog} title=${t('deals.move.title', { stage: dealStageLabel(to) })} onClose=${onClose}
    onSubmit=${submit} busy=${busy} testid="deal-move" submitLabel=${t('deals.move.submit')} error=${formError}>
    ${shown.includes('approvedAmount') && field('approvedAmount', t('deals.move.approvedAmount'), { inputMode: 'decimal', required: true })}
    ${shown.includes('approvedTerm') && field('approvedTerm', t('deals.move.approvedTerm'), { inputMode: 'numeric' })}
    ${shown.includes('approvedRate') && field('approvedRate', t('deals.move.approvedRate'), { inputMode: 'decimal' })}
    ${shown.includes('disbursedAmount') && field('disbursedAmount', t('deals.move.disbursedAmount'), { inputMode: 'decimal' })}
    ${shown.includes('disbursedOn') && field('disbursedOn', t('deals.move.disbursedOn'), { type: 'date' })}
    ${shown.includes('rate') && field('rate', t('deals.move.rate'), { inputMode: 'decimal' })}
    ${shown.includes('term') && field('term', t('deals.move.term'), { inputMode: 'numeric' })}
    ${shown.includes('method') && html`<${SelectField} id=${id('method')} label=${t('deals.move.method')} value=${values.method}
      onChange=${set('method')} error=${errors.method} testid=${id('method')}
      options=${METHODS.map((m) => ({ value: m, label: t(`calc.method.${m}`) }))} />`}
    ${shown.includes('firstDate') && field('firstDate', t('deals.move.firstDate'), { type: 'date' })}
    ${shown.includes('override') && html`<div class=${`field${errors.override ? ' has-error' : ''}`}>
      <${Checkbox} id=${id('override')} label=${t('deals.move.override')} note=${t('deals.move.overrideNote')}
        checked=${values.override} onChange=${set('override')} testid=${id('override')} />
      ${errors.override && html`<div class="field-error" role="alert" data-testid=${`${id('override')}-error`}>${errors.override}</div>`}
    </div>`}
    ${shown.includes('reason') && field('reason', t('deals.move.reason'), { maxLength: 200 })}
    ${shown.includes('note') && field('note', t('deals.move.note'), { maxLength: 200 })}
  <//>`;
}

/** Moves a deal to a stage that needs no fields. */
export async function quickMove(deal, to) {
  return api('POST', `/api/v1/deals/${encodeURIComponent(deal.id)}/stage`, { stage: to });
}

/** The Advance control on a card: a stage select and a button (keyboard and phone). */
export function AdvanceControl({ deal, onMove }) {
  const [picked, setTo] = useState(deal.next_stages[0] || '');
  if (!deal.next_stages.length || !can('deal.stage')) return null;
  // After a move the deal's next stages change: a pick that is no longer offered falls back.
  const to = deal.next_stages.includes(picked) ? picked : deal.next_stages[0];
  const sid = `advance-${deal.id}`;
  return html`<div class="deal-advance">
    <label class="visually-hidden" for=${sid}>${t('deals.advance.label')}</label>
    <select class="input select input-sm" id=${sid} value=${to} onChange=${(e) => setTo(e.currentTarget.value)}
      data-testid="deal-advance-select">
      ${deal.next_stages.map((s) => html`<option key=${s} value=${s}>${dealStageLabel(s)}</option>`)}
    </select>
    <button type="button" class="btn btn-sm" onClick=${() => onMove(deal, to)} data-testid="deal-advance">
      ${t('deals.advance')}</button>
  </div>`;
}

/** A new deal for `customer`: product picker (active products), amount, term. */
export function NewDealDialog({ customer, onClose, onDone }) {
  const [products, setProducts] = useState(null);
  const [values, setValues] = useState({
    product: '',
    amount: customer.demand && customer.demand.amount_fen ? String(customer.demand.amount_fen / 100) : '',
    term: customer.demand && customer.demand.term_months ? String(customer.demand.term_months) : '',
  });
  const [errors, setErrors] = useState({});
  const [formError, setFormError] = useState(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    api('GET', '/api/v1/products?active=true').then((r) => setProducts(r.items)).catch(() => setProducts([]));
  }, []);
  const set = (name) => (value) => setValues((v) => ({ ...v, [name]: value }));
  const submit = async () => {
    const local = {};
    if (!values.product) local.product = t('newDeal.pickProduct');
    const fen = parseYuanToFen(values.amount);
    if (fen == null || fen < 1) local.amount = t('deals.move.badAmount');
    if (!/^\d+$/.test(values.term.trim())) local.term = t('newDeal.badTerm');
    setErrors(local);
    setFormError(null);
    if (Object.keys(local).length) return;
    setBusy(true);
    try {
      const saved = await api('POST', '/api/v1/deals', {
        customer_id: customer.id, product_id: values.product, amount_fen: fen, term_months: Number(values.term.trim()),
      });
      toast(t('newDeal.done'));
      onDone(saved);
    } catch (error) {
      setBusy(false);
      const map = { product_id: 'product', amount_fen: 'amount', term_months: 'term' };
      const { text } = placeError(error, []);
      if (error.field && map[error.field]) setErrors({ [map[error.field]]: text });
      else setFormError(text);
    }
  };
  const options = [{ value: '', label: t('newDeal.pickProduct') }].concat((products || [])
    .map((p) => ({ value: p.id, label: `${p.lender} · ${p.name}` })));
  return html`<${FormDialog} title=${t('newDeal.title')} onClose=${onClose} onSubmit=${submit} busy=${busy}
    testid="new-deal" submitLabel=${t('newDeal.submit')} error=${formError}>
    <${SelectField} id="new-deal-product" label=${t('newDeal.product')} value=${values.product} onChange=${set('product')}
      options=${options} error=${errors.product} testid="new-deal-product" required
      hint=${products && products.length === 0 ? t('newDeal.noProducts') : undefined} />
    <${Field} id="new-deal-amount" label=${t('newDeal.amount')} value=${values.amount} onInput=${set('amount')}
      error=${errors.amount} testid="new-deal-amount" inputMode="decimal" hint=${moneyHint(values.amount, 'yuan')} />
    <${Field} id="new-deal-term" label=${t('newDeal.term')} value=${values.term} onInput=${set('term')}
      error=${errors.term} testid="new-deal-term" inputMode="numeric" />
  <//>`;
}

/** The customer page's deals card: the customer's deals and a New deal button (`onChanged`:
 * a new deal may have moved the customer's stage). */
export function CustomerDealsCard({ customer, onChanged }) {
  const [state, setState] = useState({ status: 'loading' });
  const [open, setOpen] = useState(false);
  const load = () => api('GET', `/api/v1/customers/${encodeURIComponent(customer.id)}/deals`)
    .then((r) => setState({ status: 'ready', items: r.items }))
    .catch((error) => setState({ status: 'error', error }));
  const allowed = can('deal.read');
  useEffect(() => { if (allowed) load(); }, [customer.id, allowed]);
  if (!allowed) return null;
  return html`<div class="card" data-testid="customer-deals">
    <div class="card-head card-head-row">
      <h2 class="card-title">${t('customerDeals.title')}</h2>
      ${can('deal.create') && html`<button type="button" class="btn btn-sm" onClick=${() => setOpen(true)} data-testid="customer-new-deal">
        <${Icon} name="plus" size=${16} /><span>${t('customerDeals.new')}</span></button>`}
    </div>
    ${state.status === 'ready' && state.items.length === 0 && html`<p class="muted">${t('customerDeals.empty')}</p>`}
    ${state.status === 'ready' && state.items.length > 0 && html`<ul class="deal-mini-list">
      ${state.items.map((d) => html`<li key=${d.id} data-testid="customer-deal">
        <a href=${`/deals/${encodeURIComponent(d.id)}`}>${d.product.lender} · ${d.product.name}</a>
        <span class="mono-num">${yuan(d.amount_fen)}</span>
        <${DealStageBadge} stage=${d.stage} />
      </li>`)}
    </ul>`}
    ${open && html`<${NewDealDialog} customer=${customer} onClose=${() => setOpen(false)}
      onDone=${() => { setOpen(false); load(); if (onChanged) onChanged(); }} />`}
  </div>`;
}
