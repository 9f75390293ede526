// Referral fees (/finance/referral-fees, finance.read firm-wide): what the firm owes brokers.
// A fee falls due when the fee of a deal a broker brought is collected (hook broker.fee) and
// counts as a cost of the broker's channel that month. Every unpaid fee, or a month's (paid,
// unpaid or all); finance.edit marks one paid after a confirmation (audited).
import { useEffect, useState } from '../vendor/preact/hooks.module.js';
import { html } from '../html.js';
import { t } from '../i18n/index.js';
import { api } from '../api.js';
import { errorText } from '../errors.js';
import { todayIso, formatDate } from '../format.js';
import { ConfirmDialog } from '../components/dialog.js';
import { EmptyState, LoadError, Loading } from '../components/states.js';
import { toast } from '../components/toast.js';
import { yuan } from '../components/fees.js';

export function ReferralFeesPage() {
  const [filter, setFilter] = useState({ month: '', status: 'unpaid' });
  const [state, setState] = useState({ status: 'loading' });
  const [paying, setPaying] = useState(null);
  const [busy, setBusy] = useState(false);
  const [payError, setPayError] = useState(null);
  const load = async (f = filter) => {
    setState({ status: 'loading' });
    const q = new URLSearchParams();
    if (f.month) q.set('month', f.month);
    if (f.month || f.status !== 'unpaid') q.set('status', f.status);
    try {
      setState({ status: 'ready', page: await api('GET', `/api/v1/finance/referral-fees?${q}`) });
    } catch (error) {
      setState({ status: 'error', error });
    }
  };
  useEffect(() => { load(); }, []);
  const pay = async () => {
    setBusy(true);
    setPayError(null);
    try {
      await api('POST', `/api/v1/finance/referral-fees/${paying.id}/paid`, { paid_on: todayIso() });
      toast(t('referralFees.done'));
      setPaying(null);
      load();
    } catch (error) {
      setPayError(errorText(error));
    } finally {
      setBusy(false);
    }
  };
  const { page } = state;
  const apply = (ev) => {
    ev.preventDefault();
    load(filter);
  };
  return html`<section class="page page-wide" data-testid="page-referral-fees">
    <header class="page-header"><h1 class="page-title">${t('referralFees.title')}</h1>
      <p class="page-subtitle">${t('referralFees.lead')}</p></header>
    <form class="toolbar" onSubmit=${apply} data-testid="referral-fee-filter">
      <label class="field-label" for="rf-month">${t('referralFees.month')}</label>
      <input class="input" id="rf-month" type="month" value=${filter.month} data-testid="rf-month"
        onInput=${(ev) => setFilter({ ...filter, month: ev.currentTarget.value, status: ev.currentTarget.value ? 'all' : 'unpaid' })} />
      ${filter.month && html`<select class="input select" value=${filter.status} data-testid="rf-status"
        onChange=${(ev) => setFilter({ ...filter, status: ev.currentTarget.value })}>
        ${['all', 'unpaid', 'paid'].map((s) => html`<option key=${s} value=${s}>${t(`referralFees.status.${s}`)}</option>`)}
      </select>`}
      <button type="submit" class="btn" data-testid="rf-show">${t('referralFees.show')}</button>
    </form>
    ${state.status === 'loading' ? html`<${Loading} />`
      : state.status === 'error' ? html`<${LoadError} error=${state.error} onRetry=${() => load()} />`
      : page.items.length === 0
        ? html`<${EmptyState} title=${t('referralFees.emptyTitle')} body=${t('referralFees.emptyBody')} testid="referral-fees-empty" />`
        : html`<p class="muted" data-testid="rf-total">${t('referralFees.total', { amount: yuan(page.amount_fen), unpaid: yuan(page.unpaid_fen) })}</p>
          <div class="card card-flush"><div class="table-wrap"><table class="table" data-testid="referral-fee-table">
          <thead><tr><th>${t('referralFees.broker')}</th><th>${t('referralFees.customer')}</th><th>${t('referralFees.channel')}</th>
            <th>${t('referralFees.due')}</th><th class="num">${t('referralFees.base')}</th><th class="num">${t('referralFees.amount')}</th>
            <th>${t('referralFees.rule')}</th><th>${t('referralFees.paidOn')}</th><th></th></tr></thead>
          <tbody>${page.items.map((f) => html`<tr key=${f.id} data-testid="referral-fee-row">
            <td>${f.broker_name}</td><td><a href=${`/deals/${f.deal_id}`}>${f.customer_name}</a></td><td>${f.channel_name || '—'}</td>
            <td>${f.month}</td><td class="num">${yuan(f.base_fen)}</td><td class="num" data-testid="rf-amount">${yuan(f.amount_fen)}</td>
            <td class="muted">${f.rule}</td>
            <td>${f.paid ? formatDate(f.paid.paid_on) : html`<span class="badge badge-warning">${t('referralFees.unpaid')}</span>`}</td>
            <td>${!f.paid && page.may_edit && html`<button type="button" class="btn btn-sm" data-testid="rf-pay"
              onClick=${() => setPaying(f)}>${t('referralFees.markPaid')}</button>`}</td>
          </tr>`)}</tbody></table></div></div>`}
    ${paying && html`<${ConfirmDialog} title=${t('referralFees.markPaid')} danger=${false}
      body=${t('referralFees.confirm', { name: paying.broker_name, amount: yuan(paying.amount_fen) })}
      confirmLabel=${t('referralFees.markPaid')} busy=${busy} error=${payError} onConfirm=${pay}
      onClose=${() => { setPaying(null); setPayError(null); }} />`}
  </section>`;
}
