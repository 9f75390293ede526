// /pools — the public pool: customers waiting in the pools I am a member of. Pool
// picker, filters (stage, grade, city, channel) sent to
// GET /api/v1/pools/{id}/customers, masked fields, "load more" paging, and a
// claim button with a confirmation; a refused claim shows the rule's reason.
import { useEffect, useState } from '../vendor/preact/hooks.module.js';
import { html } from '../html.js';
import { t, locale } from '../i18n/index.js';
import { api } from '../api.js';
import { can } from '../auth.js';
import { errorText } from '../errors.js';
import { formatDateTime } from '../format.js';
import { EmptyState, LoadError, Loading } from '../components/states.js';
import { ConfirmDialog } from '../components/dialog.js';
import { toast } from '../components/toast.js';
import { useNarrow } from '../components/narrow.js';
import { GRADES, STAGES, StageBadge, orDash } from '../components/customers.js';

const PAGE_SIZE = 50;
const NO_FILTERS = { stage: '', grade: '', city: '', channel: '' };
const HAN = /[\u3400-\u4dbf\u4e00-\u9fff]/;

/** An ApiError from a pool call → text; refusals carry the rule's reason in Chinese. */
export function poolErrorText(error) {
  if (locale.value === 'zh-CN' && typeof error?.message === 'string' && HAN.test(error.message)) return error.message;
  if (error?.code === 'claim_refused') {
    const rule = error.details?.rule;
    return rule ? t('pools.refused.rule', { rule }) : t('pools.refused');
  }
  if (error?.code === 'already_claimed') return t('pools.alreadyClaimed');
  return errorText(error);
}

function listUrl(pool, filters, cursor) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(filters)) if (v && v.trim()) q.set(k, v.trim());
  q.set('limit', String(PAGE_SIZE));
  if (cursor) q.set('cursor', cursor);
  return `/api/v1/pools/${encodeURIComponent(pool)}/customers?${q}`;
}

export function PoolsPage() {
  const [pools, setPools] = useState({ status: 'loading' });
  const [pool, setPool] = useState('');
  const [filters, setFilters] = useState(NO_FILTERS);
  const [draft, setDraft] = useState(NO_FILTERS);
  const [state, setState] = useState({ status: 'idle' });
  const [claiming, setClaiming] = useState(null);
  const [claim, setClaim] = useState({ busy: false, error: null });
  // The customer just claimed: the list no longer shows them, so the page links to them.
  const [claimed, setClaimed] = useState(null);
  const narrow = useNarrow();

  // `quiet`: refresh the counts after a claim without the loading state (no flicker).
  const loadPools = async (quiet = false) => {
    if (!quiet) setPools({ status: 'loading' });
    try {
      const list = await api('GET', '/api/v1/pools');
      setPools({ status: 'ready', items: list });
      if (list.length && !list.some((p) => p.id === pool)) setPool((list.find((p) => p.member) || list[0]).id);
    } catch (error) {
      setPools({ status: 'error', error });
    }
  };
  useEffect(() => {
    loadPools();
  }, []);

  const load = async () => {
    if (!pool) return;
    setState({ status: 'loading' });
    try {
      const page = await api('GET', listUrl(pool, filters));
      setState({ status: 'ready', items: page.items, cursor: page.next_cursor, total: page.total });
    } catch (error) {
      setState({ status: 'error', error });
    }
  };
  useEffect(() => {
    load();
  }, [pool, filters]);

  const loadMore = async () => {
    try {
      const page = await api('GET', listUrl(pool, filters, state.cursor));
      setState((s) => ({ ...s, items: [...s.items, ...page.items], cursor: page.next_cursor, total: page.total }));
    } catch (error) {
      toast(poolErrorText(error), { tone: 'error' });
    }
  };

  const confirmClaim = async () => {
    setClaim({ busy: true, error: null });
    try {
      await api('POST', `/api/v1/customers/${encodeURIComponent(claiming.id)}/claim`, {});
      toast(t('pools.claimed', { name: claiming.name }));
      setClaimed({ id: claiming.id, name: claiming.name });
      setClaiming(null);
      setClaim({ busy: false, error: null });
      load();
      loadPools(true);
    } catch (error) {
      setClaim({ busy: false, error: poolErrorText(error) });
    }
  };

  const setField = (name) => (event) => setDraft({ ...draft, [name]: event.currentTarget.value });
  const setSelect = (name) => (event) => {
    const next = { ...draft, [name]: event.currentTarget.value };
    setDraft(next);
    setFilters(next);
  };
  const apply = (event) => {
    event.preventDefault();
    setFilters({ ...draft });
  };
  const current = pools.status === 'ready' ? pools.items.find((p) => p.id === pool) : null;
  const mayClaim = can('pool.claim') && current && current.member;
  const claimButton = (c) => mayClaim && html`<button type="button" class="btn btn-sm btn-primary" data-testid="pool-claim"
    onClick=${() => { setClaim({ busy: false, error: null }); setClaiming(c); }}>${t('pools.claim')}</button>`;

  let body;
  if (pools.status === 'loading') body = html`<${Loading} testid="pools-loading" />`;
  else if (pools.status === 'error') body = html`<${LoadError} error=${pools.error} onRetry=${loadPools} testid="pools-error" />`;
  else if (!pools.items.length) {
    body = html`<${EmptyState} icon="inbox" title=${t('pools.none.title')} body=${t('pools.none.body')} testid="pools-none" />`;
  } else if (state.status === 'loading' || state.status === 'idle') body = html`<${Loading} testid="pool-loading" />`;
  else if (state.status === 'error') body = html`<${LoadError} error=${state.error} onRetry=${load} testid="pool-error" />`;
  else if (!state.items.length) {
    body = html`<${EmptyState} icon="inbox" title=${t('pools.empty.title')} body=${t('pools.empty.body')} testid="pool-empty" />`;
  } else {
    // On a phone, one card per customer with the claim button in reach (nine columns do not fit).
    body = html`${narrow ? html`<ul class="customer-cards pool-cards" data-testid="pool-cards">
      ${state.items.map((c) => html`<li key=${c.id} class="customer-card" data-testid="pool-row" data-id=${c.id}>
        <div class="customer-card-head">
          <a href=${`/customers/${encodeURIComponent(c.id)}`} class="row-title" data-testid="pool-row-link">${c.name}</a>
          <${StageBadge} stage=${c.stage} />
        </div>
        <dl class="customer-card-facts">
          <dt>${t('customers.field.phone')}</dt><dd class="mono">${c.phone}</dd>
          <dt>${t('customers.field.city')}</dt><dd>${orDash(c.city)}</dd>
          <dt>${t('pools.enteredAt')}</dt><dd>${formatDateTime(c.pool_entered_at, { seconds: false })}</dd>
          <dt>${t('pools.reason')}</dt><dd data-testid="pool-row-reason">${orDash(c.pool_reason)}</dd>
        </dl>
        ${mayClaim && html`<div class="customer-card-actions">${claimButton(c)}</div>`}
      </li>`)}
    </ul>` : html`<div class="table-wrap">
      <table class="table" data-testid="pool-table">
        <thead><tr>
          <th scope="col">${t('customers.field.name')}</th>
          <th scope="col">${t('customers.field.phone')}</th>
          <th scope="col">${t('customers.field.city')}</th>
          <th scope="col">${t('customers.field.stage')}</th>
          <th scope="col">${t('customers.field.grade')}</th>
          <th scope="col">${t('customers.field.channel')}</th>
          <th scope="col">${t('pools.enteredAt')}</th>
          <th scope="col">${t('pools.reason')}</th>
          <th scope="col"><span class="visually-hidden">${t('pools.claim')}</span></th>
        </tr></thead>
        <tbody>
          ${state.items.map((c) => html`<tr key=${c.id} data-testid="pool-row" data-id=${c.id}>
            <td><a href=${`/customers/${encodeURIComponent(c.id)}`} class="row-title" data-testid="pool-row-link">${c.name}</a></td>
            <td class="mono nowrap">${c.phone}</td>
            <td>${orDash(c.city)}</td>
            <td><${StageBadge} stage=${c.stage} /></td>
            <td>${orDash(c.grade)}</td>
            <td>${orDash(c.channel)}</td>
            <td class="nowrap">${formatDateTime(c.pool_entered_at, { seconds: false })}</td>
            <td class="cell-reason" data-testid="pool-row-reason">${orDash(c.pool_reason)}</td>
            <td class="nowrap">${claimButton(c)}</td>
          </tr>`)}
        </tbody>
      </table>
    </div>`}
    <div class="list-foot">
      <span class="muted" data-testid="pool-shown">${t('customers.shown', { shown: state.items.length, total: state.total })}</span>
      ${state.cursor
        ? html`<button type="button" class="btn" onClick=${loadMore} data-testid="pool-more">${t('customers.loadMore')}</button>`
        : html`<span class="muted">${t('customers.end')}</span>`}
    </div>`;
  }

  return html`<section class="page page-wide" data-testid="page-pools">
    <header class="page-header page-header-row">
      <div>
        <h1 class="page-title">${t('pools.title')}</h1>
        <p class="page-subtitle">${t('pools.subtitle')}</p>
      </div>
      ${pools.status === 'ready' && pools.items.length > 0 && html`<label class="toolbar-field">
        <span>${t('pools.pick')}</span>
        <select class="input" value=${pool} onChange=${(e) => setPool(e.currentTarget.value)} data-testid="pool-picker">
          ${pools.items.map((p) => html`<option value=${p.id}>${p.name} (${p.customers})</option>`)}
        </select>
      </label>`}
    </header>
    ${claimed && html`<p class="card pool-claimed" role="status" data-testid="pool-claimed">
      ${t('pools.claimedNote', { name: claimed.name })}
      <a class="btn btn-sm btn-primary" href=${`/customers/${encodeURIComponent(claimed.id)}`} data-testid="pool-claimed-open">${t('pools.claimedOpen')}</a>
    </p>`}
    <div class="card card-flush">
      ${pools.status === 'ready' && pools.items.length > 0 && html`<form class="toolbar" role="search" onSubmit=${apply} data-testid="pool-filters">
        <label class="toolbar-field"><span>${t('customers.field.stage')}</span>
          <select class="input input-sm select" value=${draft.stage} onChange=${setSelect('stage')} data-testid="pool-filter-stage">
            <option value="">${t('customers.filters.all')}</option>
            ${STAGES.map((s) => html`<option value=${s.value}>${t(s.labelKey)}</option>`)}
          </select></label>
        <label class="toolbar-field"><span>${t('customers.field.grade')}</span>
          <select class="input input-sm select" value=${draft.grade} onChange=${setSelect('grade')} data-testid="pool-filter-grade">
            <option value="">${t('customers.filters.all')}</option>
            ${GRADES.map((g) => html`<option value=${g}>${g}</option>`)}
          </select></label>
        <label class="toolbar-field"><span>${t('customers.field.city')}</span>
          <input class="input input-sm" value=${draft.city} onInput=${setField('city')} data-testid="pool-filter-city" /></label>
        <label class="toolbar-field"><span>${t('customers.field.channel')}</span>
          <input class="input input-sm" value=${draft.channel} onInput=${setField('channel')} data-testid="pool-filter-channel" /></label>
        <button type="submit" class="btn btn-sm">${t('customers.filters.apply')}</button>
      </form>`}
      ${body}
    </div>
    ${claiming && html`<${ConfirmDialog} title=${t('pools.claim.title')} danger=${false}
      body=${t('pools.claim.body', { name: claiming.name })} confirmLabel=${t('pools.claim')}
      busy=${claim.busy} error=${claim.error} onConfirm=${confirmClaim} onClose=${() => setClaiming(null)}
      testid="claim-dialog" />`}
  </section>`;
}
