// /deals — deals: a kanban board by stage (GET /api/v1/deals/board: counts from the server's
// counters, the newest cards of each column) and a list with filters (GET /api/v1/deals).
// A card moves by HTML5 drag and drop onto a column, or with its Advance control (stage select +
// button: keyboard and phone). A move needing fields (or signing, which needs a contract or a
// manager's override) opens the move dialog; the server's refusal is shown there.
import { useEffect, useState } from '../vendor/preact/hooks.module.js';
import { html } from '../html.js';
import { t } from '../i18n/index.js';
import { navigate, queryParam } from '../router.js';
import { api } from '../api.js';
import { session } from '../auth.js';
import { errorText } from '../errors.js';
import { formatDateTime } from '../format.js';
import { LoadError, Loading } from '../components/states.js';
import { Checkbox, SelectField } from '../components/form.js';
import { toast } from '../components/toast.js';
import {
  AdvanceControl, DEAL_STAGES, DealStageBadge, MoveDialog, dealStageLabel, moveNeedsForm, quickMove, yuan,
} from '../components/deals.js';

function Card({ deal, onMove }) {
  const onDragStart = (event) => {
    event.dataTransfer.setData('text/plain', deal.id);
    event.dataTransfer.effectAllowed = 'move';
  };
  return html`<li class="deal-card" draggable=${deal.next_stages.length > 0} onDragStart=${onDragStart}
    data-testid="deal-card" data-deal-id=${deal.id} data-stage=${deal.stage}>
    <a class="deal-card-name" href=${`/deals/${encodeURIComponent(deal.id)}`} draggable=${false}>${deal.customer_name}</a>
    <div class="deal-card-line muted">${deal.product.lender} · ${deal.product.name}</div>
    <div class="deal-card-line mono-num">${t('deals.card.amount', { amount: yuan(deal.amount_fen).slice(1) })}</div>
    <div class="deal-card-line muted">${t('deals.card.officer', { name: deal.officer_name || '—' })}</div>
    <${AdvanceControl} deal=${deal} onMove=${onMove} />
  </li>`;
}

function Column({ column, cards, onMove, onDropDeal }) {
  const [over, setOver] = useState(false);
  return html`<section class=${`deal-column${over ? ' is-over' : ''}`} aria-label=${dealStageLabel(column.stage)}
    data-testid="deal-column" data-stage=${column.stage}
    onDragOver=${(e) => { e.preventDefault(); e.dataTransfer.dropEffect = 'move'; setOver(true); }}
    onDragLeave=${() => setOver(false)}
    onDrop=${(e) => { e.preventDefault(); setOver(false); onDropDeal(e.dataTransfer.getData('text/plain'), column.stage); }}>
    <header class="deal-column-head">
      <${DealStageBadge} stage=${column.stage} />
      <span class="deal-column-count" data-testid="deal-column-count">${t('deals.column.count', { count: column.count })}</span>
    </header>
    <ul class="deal-cards">
      ${cards.map((d) => html`<${Card} key=${d.id} deal=${d} onMove=${onMove} />`)}
    </ul>
    ${cards.length === 0 && html`<p class="muted deal-column-empty">${t('deals.column.empty')}</p>`}
    ${column.count > cards.length && html`<p class="muted deal-column-more">${t('deals.column.more', { shown: cards.length, count: column.count })}</p>`}
  </section>`;
}

function Board({ board, onMove }) {
  const all = board.columns.flatMap((c) => c.cards);
  const onDropDeal = (id, stage) => {
    const deal = all.find((d) => d.id === id);
    if (deal && deal.stage !== stage) onMove(deal, stage);
  };
  return html`<div class="deal-board" data-testid="deal-board">
    ${board.columns.map((c) => html`<${Column} key=${c.stage} column=${c} cards=${c.cards} onMove=${onMove} onDropDeal=${onDropDeal} />`)}
  </div>`;
}

function List({ onMove, reloadKey }) {
  const [stage, setStage] = useState(queryParam('stage') || '');
  const [mine, setMine] = useState(false);
  const [state, setState] = useState({ status: 'loading', items: [] });
  const load = async (cursor) => {
    const q = new URLSearchParams();
    if (stage) q.set('stage', stage);
    if (mine && session.value) q.set('officer', session.value.id);
    q.set('limit', '50');
    if (cursor) q.set('cursor', cursor);
    try {
      const page = await api('GET', `/api/v1/deals?${q}`);
      setState((s) => ({ status: 'ready', items: cursor ? s.items.concat(page.items) : page.items, next: page.next_cursor, total: page.total }));
    } catch (error) {
      setState({ status: 'error', error, items: [] });
    }
  };
  useEffect(() => { load(null); }, [stage, mine, reloadKey]);
  return html`<div class="card card-flush" data-testid="deal-list">
    <div class="card-head deal-filters">
      <${SelectField} id="deal-filter-stage" label=${t('deals.filter.stage')} value=${stage} onChange=${setStage}
        testid="deal-filter-stage"
        options=${[{ value: '', label: t('deals.filter.all') }].concat(DEAL_STAGES.map((s) => ({ value: s.value, label: dealStageLabel(s.value) })))} />
      <${Checkbox} id="deal-filter-mine" label=${t('deals.filter.mine')} checked=${mine} onChange=${setMine} testid="deal-filter-mine" />
      ${state.status === 'ready' && html`<span class="muted" data-testid="deal-list-total">${t('deals.list.total', { count: state.total })}</span>`}
    </div>
    ${state.status === 'loading' && html`<${Loading} />`}
    ${state.status === 'error' && html`<${LoadError} error=${state.error} onRetry=${() => load(null)} />`}
    ${state.status === 'ready' && state.items.length === 0 && html`<p class="muted card-pad">${t('deals.list.empty')}</p>`}
    ${state.status === 'ready' && state.items.length > 0 && html`<div class="table-wrap">
      <table class="table">
        <thead><tr>
          <th scope="col">${t('deals.col.customer')}</th>
          <th scope="col">${t('deals.col.product')}</th>
          <th scope="col" class="num">${t('deals.col.amount')}</th>
          <th scope="col">${t('deals.col.stage')}</th>
          <th scope="col">${t('deals.col.officer')}</th>
          <th scope="col">${t('deals.col.updated')}</th>
          <th scope="col"><span class="visually-hidden">${t('deals.advance')}</span></th>
        </tr></thead>
        <tbody>
          ${state.items.map((d) => html`<tr key=${d.id} data-testid="deal-row">
            <td><a href=${`/deals/${encodeURIComponent(d.id)}`}>${d.customer_name}</a></td>
            <td>${d.product.lender} · ${d.product.name}</td>
            <td class="num">${yuan(d.amount_fen)}</td>
            <td><${DealStageBadge} stage=${d.stage} /></td>
            <td>${d.officer_name || '—'}</td>
            <td class="nowrap">${formatDateTime(d.updated_at, { seconds: false })}</td>
            <td><${AdvanceControl} deal=${d} onMove=${onMove} /></td>
          </tr>`)}
        </tbody>
      </table>
    </div>`}
    ${state.status === 'ready' && state.next && html`<div class="card-pad"><button type="button" class="btn" onClick=${() => load(state.next)}
      data-testid="deal-list-more">${t('deals.list.more')}</button></div>`}
  </div>`;
}

export function DealsPage() {
  const view = queryParam('view') === 'list' ? 'list' : 'board';
  const [board, setBoard] = useState({ status: 'loading' });
  const [moving, setMoving] = useState(null); // { deal, to }
  const [reloadKey, setReloadKey] = useState(0);
  const loadBoard = async () => {
    try {
      setBoard({ status: 'ready', board: await api('GET', '/api/v1/deals/board') });
    } catch (error) {
      setBoard({ status: 'error', error });
    }
  };
  useEffect(() => { if (view === 'board') loadBoard(); }, [view, reloadKey]);
  const reload = () => setReloadKey((k) => k + 1);
  const onMove = async (deal, to) => {
    // A move the pipeline allows and that needs fields opens the form; any other is sent as
    // is, so an illegal drop shows the server's refusal.
    if (deal.next_stages.includes(to) && moveNeedsForm(to)) {
      setMoving({ deal, to });
      return;
    }
    try {
      await quickMove(deal, to);
      toast(t('deals.move.done', { stage: dealStageLabel(to) }));
      reload();
    } catch (error) {
      toast(errorText(error), { tone: 'error' });
    }
  };
  return html`<section class="page page-wide" data-testid="page-deals">
    <header class="page-header page-header-row">
      <div>
        <h1 class="page-title">${t('deals.title')}</h1>
        <p class="page-subtitle">${t('deals.subtitle')}</p>
      </div>
      <div class="page-actions segmented" role="group">
        <button type="button" class=${`btn${view === 'board' ? ' btn-primary' : ''}`} aria-pressed=${view === 'board'}
          onClick=${() => navigate('/deals')} data-testid="deals-view-board">${t('deals.view.board')}</button>
        <button type="button" class=${`btn${view === 'list' ? ' btn-primary' : ''}`} aria-pressed=${view === 'list'}
          onClick=${() => navigate('/deals?view=list')} data-testid="deals-view-list">${t('deals.view.list')}</button>
      </div>
    </header>
    ${view === 'board' && board.status === 'loading' && html`<${Loading} testid="deal-board-loading" />`}
    ${view === 'board' && board.status === 'error' && html`<${LoadError} error=${board.error} onRetry=${loadBoard} />`}
    ${view === 'board' && board.status === 'ready' && html`<${Board} board=${board.board} onMove=${onMove} />`}
    ${view === 'list' && html`<${List} onMove=${onMove} reloadKey=${reloadKey} />`}
    ${moving && html`<${MoveDialog} deal=${moving.deal} to=${moving.to} onClose=${() => setMoving(null)}
      onDone=${() => { setMoving(null); reload(); }} />`}
  </section>`;
}
