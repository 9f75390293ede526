// Finance pages (finance.read): receivables /finance/receivables, payments of a month
// /finance/payments, overdue /finance/overdue, rebates /finance/rebates, month close /finance/months. Each lists what the
// caller's scope sees (finance: everyone; a manager: their department). Closing a month asks
// for a confirmation; closed months show a lock; reopening is an admin's, with a reason.
import { useEffect, useState } from '../vendor/preact/hooks.module.js';
import { html } from '../html.js';
import { t } from '../i18n/index.js';
import { api } from '../api.js';
import { can, session } from '../auth.js';
import { route } from '../router.js';
import { formatDateTime, todayIso } from '../format.js';
import { EmptyState, LoadError, Loading } from '../components/states.js';
import { ConfirmDialog, FormDialog } from '../components/dialog.js';
import { Field } from '../components/field.js';
import { Icon } from '../components/icons.js';
import { toast } from '../components/toast.js';
import { errorText } from '../errors.js';
import { methodLabel, yuan } from '../components/fees.js';

const TABS = [
  { tab: 'receivables', path: '/finance/receivables', key: 'nav.finance.receivables' },
  { tab: 'payments', path: '/finance/payments', key: 'nav.finance.payments' },
  { tab: 'overdue', path: '/finance/overdue', key: 'nav.finance.overdue' },
  { tab: 'rebates', path: '/finance/rebates', key: 'nav.finance.rebates' },
  { tab: 'months', path: '/finance/months', key: 'nav.finance.months' },
];

function useLoad(path) {
  const [state, setState] = useState({ status: 'loading' });
  const load = async () => {
    setState({ status: 'loading' });
    try {
      setState({ status: 'ready', data: await api('GET', path) });
    } catch (error) {
      setState({ status: 'error', error });
    }
  };
  useEffect(() => { load(); }, [path]);
  return [state, load];
}

const dealLink = (id, text) => html`<a href=${`/deals/${encodeURIComponent(id)}`}>${text}</a>`;

function Receivables({ kind }) {
  const [state, load] = useLoad(`/api/v1/finance/${kind}`);
  if (state.status === 'loading') return html`<${Loading} />`;
  if (state.status === 'error') return html`<${LoadError} error=${state.error} onRetry=${load} />`;
  const p = state.data;
  const rebate = kind === 'rebates';
  return html`<div data-testid=${`finance-${kind}`}>
    <div class="finance-totals">
      <div><span class="muted">${t('finance.total')}</span><strong data-testid="finance-total">${yuan(p.total_fen)}</strong></div>
      ${p.buckets.map((b) => html`<div key=${b.bucket}><span class="muted">${t('finance.bucket', { bucket: b.bucket })}</span>
        <strong>${yuan(b.amount_fen)}</strong><span class="muted small">${t('finance.count', { count: b.count })}</span></div>`)}
    </div>
    ${p.items.length === 0
      ? html`<${EmptyState} title=${t(`finance.empty.${kind}`)} testid="finance-empty" />`
      : html`<div class="card card-flush"><div class="table-wrap"><table class="table">
        <thead><tr><th>${t('finance.col.customer')}</th><th>${t('finance.col.officer')}</th><th>${t('finance.col.disbursedOn')}</th>
          ${rebate ? html`<th>${t('finance.col.lender')}</th><th class="money">${t('finance.col.rebate')}</th><th class="money">${t('finance.col.received')}</th>`
            : html`<th class="money">${t('finance.col.fee')}</th><th class="money">${t('finance.col.paid')}</th>`}
          <th class="money">${t('finance.col.balance')}</th><th>${t('finance.col.age')}</th></tr></thead>
        <tbody>${p.items.map((r) => html`<tr key=${r.deal_id} data-testid="finance-row">
          <td>${dealLink(r.deal_id, r.customer_name)}<div class="muted small">${r.lender} · ${r.product_name}</div></td>
          <td>${r.officer_name}</td><td>${r.disbursed_on}</td>
          ${rebate ? html`<td>${r.lender}</td><td class="money">${yuan(r.rebate_fen)}</td><td class="money">${yuan(r.rebate_received_fen)}</td>`
            : html`<td class="money">${yuan(r.fee_fen)}</td><td class="money">${yuan(r.paid_fen)}</td>`}
          <td class="money"><strong>${yuan(rebate ? r.rebate_balance_fen : r.balance_fen)}</strong></td>
          <td>${t('finance.days', { days: r.days })}</td>
        </tr>`)}</tbody>
      </table></div></div>`}
  </div>`;
}

function MonthPicker({ month, onChange }) {
  return html`<div class="month-picker">
    <div class="field"><label class="field-label" for="finance-month">${t('finance.month')}</label>
      <input class="input" id="finance-month" type="month" value=${month} data-testid="finance-month"
        onChange=${(e) => e.currentTarget.value && onChange(e.currentTarget.value)} /></div>
  </div>`;
}

function Payments() {
  const [month, setMonth] = useState(todayIso().slice(0, 7));
  const [state, load] = useLoad(`/api/v1/finance/payments?month=${month}`);
  return html`<div data-testid="finance-payments">
    <${MonthPicker} month=${month} onChange=${setMonth} />
    ${state.status === 'loading' ? html`<${Loading} />`
      : state.status === 'error' ? html`<${LoadError} error=${state.error} onRetry=${load} />`
      : html`
      <div class="finance-totals">
        <div><span class="muted">${t('finance.received')}</span><strong data-testid="finance-received">${yuan(state.data.received_fen)}</strong></div>
        <div><span class="muted">${t('finance.refunded')}</span><strong>${yuan(state.data.refunded_fen)}</strong></div>
        <div><span class="muted">${t('finance.net')}</span><strong>${yuan(state.data.net_fen)}</strong></div>
        ${state.data.closed && html`<div><span class="tag tag-muted" data-testid="finance-month-locked"><${Icon} name="lock" size=${12} /> ${t('finance.closed')}</span></div>`}
      </div>
      ${state.data.items.length === 0
        ? html`<${EmptyState} title=${t('finance.empty.payments')} testid="finance-empty" />`
        : html`<div class="card card-flush"><div class="table-wrap"><table class="table">
          <thead><tr><th>${t('finance.col.date')}</th><th>${t('finance.col.customer')}</th><th>${t('finance.col.officer')}</th>
            <th>${t('finance.col.kind')}</th><th class="money">${t('finance.col.amount')}</th><th>${t('finance.col.note')}</th></tr></thead>
          <tbody>${state.data.items.map((m) => html`<tr key=${m.id} data-testid="finance-row">
            <td>${m.on}</td><td>${dealLink(m.deal_id, m.customer_name)}</td><td>${m.officer_name}</td>
            <td>${t(`finance.kind.${m.kind}`)}</td><td class="money">${yuan(m.amount_fen)}</td>
            <td>${m.kind === 'payment' ? `${methodLabel(m.method)} · ${m.receipt_no}` : m.reason}</td>
          </tr>`)}</tbody>
        </table></div></div>`}`}
  </div>`;
}

function Months() {
  const [state, load] = useLoad('/api/v1/finance/months');
  const [closing, setClosing] = useState(null);
  const [reopening, setReopening] = useState(null);
  const [reason, setReason] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const [checked, setChecked] = useState({});
  const mayClose = can('finance.edit');
  const isAdmin = Boolean(session.value && (session.value.roles || []).includes('admin'));
  if (state.status === 'loading') return html`<${Loading} />`;
  if (state.status === 'error') return html`<${LoadError} error=${state.error} onRetry=${load} />`;
  const act = async (path, body, done) => {
    setBusy(true);
    setError('');
    try {
      await api('POST', path, body);
      toast(done);
      setClosing(null);
      setReopening(null);
      load();
    } catch (e) {
      setError(errorText(e));
    } finally {
      setBusy(false);
    }
  };
  const verify = async (m) => {
    try {
      const v = await api('GET', `/api/v1/finance/months/${m}`);
      setChecked({ ...checked, [m]: v.verified });
    } catch (e) {
      toast(errorText(e), { tone: 'error' });
    }
  };
  return html`<div data-testid="finance-months">
    <div class="card"><ul class="plain-list month-list">
      ${state.data.map((m) => html`<li key=${m.month} data-testid="finance-month-row" data-month=${m.month}>
        <strong class="month-name">${m.month}</strong>
        ${m.closed
          ? html`<span class="tag tag-muted" data-testid="month-locked"><${Icon} name="lock" size=${12} /> ${t('finance.closed')}</span>`
          : html`<span class="muted">${t('finance.open')}</span>`}
        <span class="month-figures">${t('finance.received')} ${yuan(m.received_fen)}${m.closed
          ? html` · ${t('finance.col.commission')} ${yuan(m.total_fen)}` : ''}</span>
        <span class="month-actions">
          ${!m.closed && m.over && mayClose && html`<button type="button" class="btn" data-testid="month-close"
            onClick=${() => { setError(''); setClosing(m.month); }}>${t('finance.close')}</button>`}
          ${m.closed && html`<button type="button" class="btn btn-link" data-testid="month-verify" onClick=${() => verify(m.month)}>${t('finance.verify')}</button>`}
          ${m.closed && isAdmin && html`<button type="button" class="btn btn-link" data-testid="month-reopen"
            onClick=${() => { setError(''); setReason(''); setReopening(m.month); }}>${t('finance.reopen')}</button>`}
        </span>
        ${m.closed && html`<span class="muted small month-detail">${t('finance.closedAt', { at: formatDateTime(m.closed_at, { seconds: false }) })}</span>`}
        ${checked[m.month] != null && html`<span class=${checked[m.month] ? 'small month-detail' : 'small month-detail form-error'} data-testid="month-verified">
          ${checked[m.month] ? t('finance.verified') : t('finance.tampered')}</span>`}
      </li>`)}
    </ul></div>
    ${closing && html`<${ConfirmDialog} title=${t('finance.close.title', { month: closing })} testid="month-close-dialog"
      body=${t('finance.close.body', { month: closing })} confirmLabel=${t('finance.close')} danger=${false}
      busy=${busy} error=${error} onClose=${() => setClosing(null)}
      onConfirm=${() => act(`/api/v1/finance/months/${closing}/close`, {}, t('finance.close.done', { month: closing }))} />`}
    ${reopening && html`<${FormDialog} title=${t('finance.reopen.title', { month: reopening })} testid="month-reopen-dialog"
      busy=${busy} error=${error} danger=${true} submitLabel=${t('finance.reopen')} onClose=${() => setReopening(null)}
      onSubmit=${() => act(`/api/v1/finance/months/${reopening}/reopen`, { reason }, t('finance.reopen.done', { month: reopening }))}>
      <p>${t('finance.reopen.body')}</p>
      <${Field} id="reopen-reason" label=${t('fees.field.reason')} value=${reason} onInput=${setReason} testid="month-reopen-reason" />
    <//>`}
  </div>`;
}

export function FinancePage() {
  const current = TABS.find((x) => route.value.path.startsWith(x.path)) || TABS[0];
  return html`<section class="page page-wide" data-testid="page-finance">
    <header class="page-header"><h1 class="page-title">${t(current.key)}</h1>
      <p class="page-subtitle">${t('finance.subtitle')}</p></header>
    <nav class="finance-tabs" aria-label=${t('nav.section.finance')}>
      ${TABS.map((x) => html`<a key=${x.tab} href=${x.path} aria-current=${x.tab === current.tab ? 'page' : undefined}>${t(x.key)}</a>`)}
    </nav>
    ${current.tab === 'payments' ? html`<${Payments} />`
      : current.tab === 'months' ? html`<${Months} />`
      : html`<${Receivables} kind=${current.tab} key=${current.tab} />`}
  </section>`;
}
