// The fees card of a deal (GET /deals/{id}/fees): the agreed fee and how it was computed, what
// was paid, refunded and waived, the balance, the lender's rebate; forms to record a payment,
// a refund, a waiver (managers, with a confirmation) and a rebate receipt. Rows dated in a
// closed month show a lock and cannot be removed.
import { useEffect, useState } from '../vendor/preact/hooks.module.js';
import { html } from '../html.js';
import { t } from '../i18n/index.js';
import { api } from '../api.js';
import { formatYuan, parseYuanToFen } from '../money.js';
import { moneyHint } from './money-hint.js';
import { todayIso } from '../format.js';
import { Field } from './field.js';
import { SelectField } from './form.js';
import { ConfirmDialog, FormDialog } from './dialog.js';
import { LoadError, Loading } from './states.js';
import { toast } from './toast.js';
import { errorText, placeError } from '../errors.js';
import { Icon } from './icons.js';

export const yuan = (fen) => `¥${formatYuan(fen)}`;
export const PAY_METHODS = ['transfer', 'cash', 'wechat', 'alipay', 'other'];
export const methodLabel = (m) => (m ? t(`fees.method.${m}`) : '—');

// Each form: its fields (API name → input kind) and its endpoint.
const FORMS = {
  payment: { path: 'payments', date: 'paid_on', fields: ['amount_fen', 'paid_on', 'method', 'payer', 'receipt_no'] },
  refund: { path: 'refunds', date: 'refunded_on', fields: ['amount_fen', 'refunded_on', 'reason'] },
  waiver: { path: 'fee-waivers', fields: ['amount_fen', 'reason'] },
  rebate: { path: 'rebate-receipts', date: 'received_on', fields: ['amount_fen', 'received_on', 'receipt_no'] },
};

function MoneyDialog({ kind, dealId, suggested, onClose, onDone }) {
  const form = FORMS[kind];
  const [v, setV] = useState({
    amount: suggested ? (suggested / 100).toFixed(2) : '', date: todayIso(), method: 'transfer', payer: '', receipt_no: '', reason: '',
  });
  const [busy, setBusy] = useState(false);
  const [err, setErr] = useState({ field: null, text: '' });
  const [confirming, setConfirming] = useState(false);
  const set = (k) => (x) => setV({ ...v, [k]: x });
  const body = () => {
    const amount = parseYuanToFen(v.amount);
    if (amount == null || amount === undefined || amount <= 0) {
      setErr({ field: 'amount_fen', text: t('fees.error.amount') });
      return null;
    }
    const b = { amount_fen: amount };
    if (form.date) b[form.date] = v.date;
    if (kind === 'payment') Object.assign(b, { method: v.method, payer: v.payer || null, receipt_no: v.receipt_no });
    if (kind === 'rebate') b.receipt_no = v.receipt_no;
    if (kind === 'refund' || kind === 'waiver') b.reason = v.reason;
    return b;
  };
  const send = async (b) => {
    setBusy(true);
    try {
      const saved = await api('POST', `/api/v1/deals/${encodeURIComponent(dealId)}/${form.path}`, b);
      toast(t(`fees.${kind}.done`));
      onDone(saved);
    } catch (error) {
      setErr(placeError(error, form.fields));
      setConfirming(false);
    } finally {
      setBusy(false);
    }
  };
  const submit = () => {
    setErr({ field: null, text: '' });
    const b = body();
    if (!b) return;
    // Waivers and refunds give money up: confirm first.
    if (kind === 'waiver' || kind === 'refund') {
      setConfirming(b);
      return;
    }
    send(b);
  };
  const fe = (f) => (err.field === f ? err.text : null);
  if (confirming) {
    return html`<${ConfirmDialog} title=${t(`fees.${kind}.title`)} testid="fee-confirm"
      body=${t(`fees.${kind}.confirm`, { amount: yuan(confirming.amount_fen) })}
      confirmLabel=${t(`fees.${kind}.submit`)} busy=${busy} error=${err.text}
      onConfirm=${() => send(confirming)} onClose=${() => setConfirming(false)} />`;
  }
  return html`<${FormDialog} title=${t(`fees.${kind}.title`)} onClose=${onClose} onSubmit=${submit} busy=${busy}
    testid=${`fee-${kind}-dialog`} submitLabel=${t(`fees.${kind}.submit`)} error=${err.field ? null : err.text}>
    <${Field} id="fee-amount" label=${t('fees.field.amount')} value=${v.amount} onInput=${set('amount')}
      inputMode="decimal" error=${fe('amount_fen')} testid="fee-amount" hint=${moneyHint(v.amount, 'yuan')} />
    ${form.date && html`<${Field} id="fee-date" type="date" label=${t(`fees.field.${form.date}`)} value=${v.date}
      onInput=${set('date')} error=${fe(form.date)} testid="fee-date" />`}
    ${kind === 'payment' && html`<${SelectField} id="fee-method" label=${t('fees.field.method')} value=${v.method}
      onChange=${set('method')} options=${PAY_METHODS.map((m) => ({ value: m, label: methodLabel(m) }))} testid="fee-method" />
      <${Field} id="fee-payer" label=${t('fees.field.payer')} value=${v.payer} onInput=${set('payer')} required=${false}
        error=${fe('payer')} testid="fee-payer" />`}
    ${(kind === 'payment' || kind === 'rebate') && html`<${Field} id="fee-receipt" label=${t('fees.field.receipt_no')}
      value=${v.receipt_no} onInput=${set('receipt_no')} error=${fe('receipt_no')} testid="fee-receipt" />`}
    ${(kind === 'refund' || kind === 'waiver') && html`<${Field} id="fee-reason" label=${t('fees.field.reason')}
      value=${v.reason} onInput=${set('reason')} error=${fe('reason')} testid="fee-reason" />`}
  <//>`;
}

function RemoveDialog({ dealId, payment, onClose, onDone }) {
  const [reason, setReason] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const confirm = async () => {
    setBusy(true);
    try {
      const saved = await api('DELETE', `/api/v1/deals/${encodeURIComponent(dealId)}/payments/${encodeURIComponent(payment.id)}?reason=${encodeURIComponent(reason)}`);
      toast(t('fees.remove.done'));
      onDone(saved);
    } catch (e) {
      setError(errorText(e));
    } finally {
      setBusy(false);
    }
  };
  return html`<${ConfirmDialog} title=${t('fees.remove.title')} testid="fee-remove-dialog"
    body=${t('fees.remove.body', { amount: yuan(payment.amount_fen), date: payment.paid_on })}
    confirmLabel=${t('fees.remove.submit')} busy=${busy} error=${error} onConfirm=${confirm} onClose=${onClose}>
    <${Field} id="fee-remove-reason" label=${t('fees.field.reason')} value=${reason} onInput=${setReason} testid="fee-remove-reason" />
  <//>`;
}

/** Runs the fee rule again (POST /deals/{id}/fee-recompute), with a reason; optionally with
 * the product's current service fee (a deal keeps its product's terms from when it was made:
 * one made before the product had a fee owes nothing until finance takes the fee in). */
function RecomputeDialog({ dealId, agreedFen, onClose, onDone }) {
  const [reason, setReason] = useState('');
  const [productFee, setProductFee] = useState(agreedFen === 0);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const confirm = async () => {
    if (!reason.trim()) {
      setError(t('fees.recompute.needReason'));
      return;
    }
    setBusy(true);
    try {
      const saved = await api('POST', `/api/v1/deals/${encodeURIComponent(dealId)}/fee-recompute`,
        { reason: reason.trim(), product_fee: productFee });
      toast(t('fees.recompute.done', { amount: yuan(saved.fee_fen) }));
      onDone(saved);
    } catch (e) {
      setError(errorText(e));
    } finally {
      setBusy(false);
    }
  };
  return html`<${ConfirmDialog} title=${t('fees.recompute.title')} testid="fee-recompute-dialog"
    body=${t('fees.recompute.body')} confirmLabel=${t('fees.recompute.submit')} busy=${busy} error=${error}
    onConfirm=${confirm} onClose=${onClose}>
    <label class="check" for="fee-recompute-product">
      <input type="checkbox" id="fee-recompute-product" checked=${productFee}
        onChange=${(e) => setProductFee(e.currentTarget.checked)} data-testid="fee-recompute-product" />
      <span class="check-text"><span class="check-label">${t('fees.recompute.productFee')}</span>
        <span class="check-note">${t('fees.recompute.productFeeNote')}</span></span>
    </label>
    <${Field} id="fee-recompute-reason" label=${t('fees.field.reason')} value=${reason} onInput=${setReason} testid="fee-recompute-reason" />
  <//>`;
}

function Lock({ row }) {
  return row.locked
    ? html`<span class="tag tag-muted" title=${t('fees.locked.hint', { month: row.month })} data-testid="fee-locked">
        <${Icon} name="lock" size=${12} /> ${t('fees.locked')}</span>`
    : null;
}

/** The card; `onChanged(view)` after a write (the deal's stage may have moved to fee_collected). */
export function FeeCard({ dealId, stage, onChanged }) {
  const [state, setState] = useState({ status: 'loading' });
  const [dialog, setDialog] = useState(null);
  const [removing, setRemoving] = useState(null);
  const [recomputing, setRecomputing] = useState(false);
  const load = async () => {
    try {
      setState({ status: 'ready', v: await api('GET', `/api/v1/deals/${encodeURIComponent(dealId)}/fees`) });
    } catch (error) {
      setState({ status: 'error', error });
    }
  };
  useEffect(() => { load(); }, [dealId, stage]);
  if (state.status === 'loading') return html`<div class="card"><${Loading} /></div>`;
  if (state.status === 'error') return html`<div class="card"><${LoadError} error=${state.error} onRetry=${load} /></div>`;
  const v = state.v;
  const disbursed = stage === 'disbursed' || stage === 'fee_collected';
  const done = (saved) => {
    setDialog(null);
    setRemoving(null);
    setRecomputing(false);
    setState({ status: 'ready', v: saved });
    if (onChanged) onChanged(saved);
  };
  const row = (label, value, testid) => html`<dt>${label}</dt><dd data-testid=${testid}>${value}</dd>`;
  return html`<div class="card" data-testid="deal-fees">
    <h2 class="card-title">${t('fees.title')}</h2>
    ${!disbursed
      ? html`<p class="muted" data-testid="fees-not-yet">${t('fees.notYet')}</p>`
      : html`
      <dl class="desc-list">
        ${row(t('fees.agreed'), html`${yuan(v.fee_fen)}${v.fee_rule && html`<div class="muted small">${v.fee_rule}</div>`}`, 'fee-agreed')}
        ${row(t('fees.paid'), yuan(v.paid_fen), 'fee-paid')}
        ${v.refunded_fen > 0 && row(t('fees.refunded'), yuan(v.refunded_fen), 'fee-refunded')}
        ${v.waived_fen > 0 && row(t('fees.waived'), yuan(v.waived_fen), 'fee-waived')}
        ${row(t('fees.balance'), html`<strong>${yuan(v.balance_fen)}</strong>`, 'fee-balance')}
        ${v.rebate_fen > 0 && row(t('fees.rebate'), t('fees.rebateValue', {
          total: yuan(v.rebate_fen), received: yuan(v.rebate_received_fen), left: yuan(v.rebate_balance_fen),
        }), 'fee-rebate')}
      </dl>
      <div class="page-actions">
        ${v.may_record && v.balance_fen > 0 && html`<button type="button" class="btn btn-primary" data-testid="fee-pay"
          onClick=${() => setDialog('payment')}>${t('fees.payment.title')}</button>`}
        ${v.may_record && v.paid_fen > v.refunded_fen && html`<button type="button" class="btn" data-testid="fee-refund"
          onClick=${() => setDialog('refund')}>${t('fees.refund.title')}</button>`}
        ${v.may_waive && v.balance_fen > 0 && html`<button type="button" class="btn" data-testid="fee-waive"
          onClick=${() => setDialog('waiver')}>${t('fees.waiver.title')}</button>`}
        ${v.may_record && v.rebate_balance_fen > 0 && html`<button type="button" class="btn" data-testid="fee-rebate-receive"
          onClick=${() => setDialog('rebate')}>${t('fees.rebate.title')}</button>`}
        ${v.may_record && html`<button type="button" class="btn" data-testid="fee-recompute"
          onClick=${() => setRecomputing(true)}>${t('fees.recompute.title')}</button>`}
      </div>
      ${v.payments.length === 0 && v.refunds.length === 0
        ? html`<p class="muted" data-testid="fees-empty">${t('fees.empty')}</p>`
        : html`<ul class="plain-list" data-testid="fee-rows">
          ${v.payments.map((p) => html`<li key=${p.id} data-testid="fee-payment-row" data-locked=${p.locked ? 'true' : 'false'}>
            <strong>${yuan(p.amount_fen)}</strong> · ${p.paid_on} · ${methodLabel(p.method)} · ${t('fees.receipt', { no: p.receipt_no })}
            <${Lock} row=${p} />
            ${v.may_record && html`<button type="button" class="btn btn-link" disabled=${p.locked}
              title=${p.locked ? t('fees.locked.hint', { month: p.month }) : undefined}
              data-testid="fee-payment-remove" onClick=${() => setRemoving(p)}>${t('fees.remove.title')}</button>`}
          </li>`)}
          ${v.refunds.map((r) => html`<li key=${r.id} data-testid="fee-refund-row">
            <strong>−${yuan(r.amount_fen)}</strong> · ${r.refunded_on} · ${r.reason} <${Lock} row=${r} />
          </li>`)}
          ${v.waivers.map((w) => html`<li key=${w.id} data-testid="fee-waiver-row">
            ${t('fees.waiverRow', { amount: yuan(w.amount_fen), reason: w.reason })}
          </li>`)}
        </ul>`}`}
    ${dialog && html`<${MoneyDialog} kind=${dialog} dealId=${dealId}
      suggested=${dialog === 'payment' ? v.balance_fen : dialog === 'rebate' ? v.rebate_balance_fen : null}
      onClose=${() => setDialog(null)} onDone=${done} />`}
    ${removing && html`<${RemoveDialog} dealId=${dealId} payment=${removing} onClose=${() => setRemoving(null)} onDone=${done} />`}
    ${recomputing && html`<${RecomputeDialog} dealId=${dealId} agreedFen=${v.fee_fen} onClose=${() => setRecomputing(false)} onDone=${done} />`}
  </div>`;
}
