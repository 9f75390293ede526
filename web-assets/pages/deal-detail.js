// /deals/:id — one deal: its fields, the Advance control, the stage history (who, when, from,
// to, note, a manager's override), and for a disbursed deal the repayment schedule with the
// service fee and the comprehensive annual cost, its fees card (components/fees.js), the
// documents (custody) card and its contracts (components/contracts.js).
import { useEffect, useState } from '../vendor/preact/hooks.module.js';
import { html } from '../html.js';
import { t } from '../i18n/index.js';
import { api } from '../api.js';
import { route } from '../router.js';
import { formatDateTime } from '../format.js';
import { formatBpPercent, formatYuan } from '../money.js';
import { LoadError, Loading } from '../components/states.js';
import { loadDirectory } from '../components/customer-settings.js';
import { toast } from '../components/toast.js';
import { errorText } from '../errors.js';
import {
  AdvanceControl, DealStageBadge, MoveDialog, dealStageLabel, moveNeedsForm, quickMove, yuan,
} from '../components/deals.js';
import { NotFoundPage } from './not-found.js';
import { PeriodsTable } from '../components/periods-table.js';
import { DocumentsCard } from '../components/documents.js';
import { FeeCard } from '../components/fees.js';
import { ContractsCard } from '../components/contracts.js';

function dealIdFromPath(path) {
  const m = path.match(/^\/deals\/([^/]+)\/?$/);
  return m ? decodeURIComponent(m[1]) : null;
}

function Row({ label, children, testid }) {
  return html`<dt>${label}</dt><dd data-testid=${testid}>${children}</dd>`;
}

function Fields({ d }) {
  const disb = d.disbursement;
  return html`<div class="card" data-testid="deal-fields">
    <h2 class="card-title">${t('deal.fields')}</h2>
    <dl class="desc-list">
      <${Row} label=${t('deal.customer')}><a href=${`/customers/${encodeURIComponent(d.customer_id)}`}>${d.customer_name}</a><//>
      <${Row} label=${t('deal.product')}>${d.product.lender} · ${d.product.name}<//>
      <${Row} label=${t('deal.amount')} testid="deal-amount">${yuan(d.amount_fen)}<//>
      <${Row} label=${t('deal.term')}>${t('deal.termValue', { months: d.term_months })}<//>
      <${Row} label=${t('deal.officer')}>${d.officer_name || t('deal.none')}<//>
      <${Row} label=${t('deal.assistant')}>${d.assistant_name || t('deal.none')}<//>
      ${d.broker_name && html`<${Row} label=${t('deal.broker')} testid="deal-broker">${d.broker_name}<//>`}
      ${d.approval && html`<${Row} label=${t('deal.approved')} testid="deal-approved">${yuan(d.approval.amount_fen)}<//>`}
      ${disb && html`<${Row} label=${t('deal.disbursed')} testid="deal-disbursed">${t('deal.disbursedValue', {
        amount: formatYuan(disb.amount_fen), date: disb.disbursed_on, rate: formatBpPercent(disb.rate_bp), months: disb.term_months,
      })}<//>`}
      ${d.closed_reason && html`<${Row} label=${t('deal.closedReason')} testid="deal-closed-reason">${d.closed_reason}<//>`}
    </dl>
  </div>`;
}

function History({ d, userName }) {
  const items = [...d.history].reverse();
  return html`<div class="card" data-testid="deal-history">
    <h2 class="card-title">${t('deal.history')}</h2>
    <ol class="timeline">
      ${items.map((h, i) => html`<li key=${i} class="timeline-item" data-testid="deal-history-item">
        <div class="timeline-head">
          <strong>${h.from
            ? t('deal.history.move', { from: dealStageLabel(h.from), to: dealStageLabel(h.to) })
            : t('deal.history.created', { stage: dealStageLabel(h.to) })}</strong>
          <span class="muted">${userName(h.by)} · ${formatDateTime(h.at, { seconds: false })}</span>
        </div>
        ${h.override_reason && html`<p class="notice notice-warning" data-testid="deal-history-override">${t('deal.history.override', { reason: h.override_reason })}</p>`}
        ${h.note && html`<p>${h.note}</p>`}
      </li>`)}
    </ol>
  </div>`;
}

function Schedule({ s }) {
  return html`<div class="card card-flush" data-testid="deal-schedule">
    <div class="card-head">
      <h2 class="card-title">${t('deal.schedule', { count: s.periods.length })}</h2>
      <p class="card-lead muted">
        ${s.service_fee_fen > 0 && html`<span>${t('deal.schedule.fee', { amount: formatYuan(s.service_fee_fen) })} · </span>`}
        ${s.comprehensive_cost_bp != null && html`<span data-testid="deal-cost">${t('deal.schedule.cost', { cost: formatBpPercent(s.comprehensive_cost_bp) })}</span>`}
      </p>
      ${s.cost_warning && html`<div class=${`notice ${s.over_cap ? 'notice-error' : 'notice-warning'}`} role="alert" data-testid="deal-cost-warning">${s.cost_warning}</div>`}
      ${s.cost_problem && html`<div class="notice notice-warning" role="alert">${s.cost_problem}</div>`}
    </div>
    <${PeriodsTable} periods=${s.periods} label=${t('deal.schedule', { count: s.periods.length })} rowTestid="deal-schedule-row" />
  </div>`;
}

export function DealDetailPage() {
  const id = dealIdFromPath(route.value.path);
  const [state, setState] = useState({ status: 'loading' });
  const [users, setUsers] = useState([]);
  const [moving, setMoving] = useState(null);
  const load = async () => {
    try {
      setState({ status: 'ready', deal: await api('GET', `/api/v1/deals/${encodeURIComponent(id)}`) });
    } catch (error) {
      setState(error.status === 404 ? { status: 'not-found' } : { status: 'error', error });
    }
  };
  useEffect(() => { if (id) load(); else setState({ status: 'not-found' }); }, [id]);
  useEffect(() => { loadDirectory().then((l) => setUsers(Array.isArray(l) ? l : [])); }, []);
  const userName = (uid) => (users.find((u) => u.id === uid) || {}).display_name || '—';

  if (state.status === 'not-found') return html`<${NotFoundPage} />`;
  if (state.status === 'loading') return html`<section class="page page-wide"><${Loading} /></section>`;
  if (state.status === 'error') return html`<section class="page page-wide"><${LoadError} error=${state.error} onRetry=${load} /></section>`;
  const d = state.deal;
  const onMove = async (deal, to) => {
    if (moveNeedsForm(to)) {
      setMoving({ deal, to });
      return;
    }
    try {
      setState({ status: 'ready', deal: await quickMove(deal, to) });
      toast(t('deals.move.done', { stage: dealStageLabel(to) }));
    } catch (error) {
      toast(errorText(error), { tone: 'error' });
    }
  };
  return html`<section class="page page-wide" data-testid="page-deal-detail">
    <nav class="breadcrumb" aria-label=${t('deal.breadcrumb')}>
      <a href="/deals">${t('deals.title')}</a>
      <span aria-hidden="true">/</span>
      <span>${d.customer_name}</span>
    </nav>
    <header class="page-header page-header-row">
      <div>
        <h1 class="page-title">${d.customer_name} <${DealStageBadge} stage=${d.stage} /></h1>
        <p class="page-subtitle">${d.product.lender} · ${d.product.name}</p>
      </div>
      <div class="page-actions"><${AdvanceControl} deal=${d} onMove=${onMove} /></div>
    </header>
    <div class="customer-layout">
      <div class="customer-side"><${Fields} d=${d} /></div>
      <div class="customer-main">
        ${(d.stage === 'disbursed' || d.stage === 'fee_collected') && html`<${FeeCard} dealId=${d.id} stage=${d.stage}
          onChanged=${(v) => { if (v.stage !== d.stage) load(); }} />`}
        ${d.schedule && html`<${Schedule} s=${d.schedule} />`}
        <${DocumentsCard} dealId=${d.id} />
        <${ContractsCard} deal=${d} />
        <${History} d=${d} userName=${userName} />
      </div>
    </div>
    ${moving && html`<${MoveDialog} deal=${moving.deal} to=${moving.to} onClose=${() => setMoving(null)}
      onDone=${(saved) => { setMoving(null); setState({ status: 'ready', deal: saved }); }} />`}
  </section>`;
}
