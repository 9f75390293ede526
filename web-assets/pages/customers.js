// /customers — the customer list (capability customer.read): filters (stage, grade,
// tag, channel) sent as GET /api/v1/customers query parameters, paging by
// next_cursor ("load more"), the total, and the new-customer dialog.
import { useEffect, useState } from '../vendor/preact/hooks.module.js';
import { html } from '../html.js';
import { t } from '../i18n/index.js';
import { api } from '../api.js';
import { can } from '../auth.js';
import { navigate, queryParam } from '../router.js';
import { formatDateTime } from '../format.js';
import { EmptyState, LoadError, Loading } from '../components/states.js';
import { Icon } from '../components/icons.js';
import { toast } from '../components/toast.js';
import {
  CustomerDialog, GRADES, STAGES, StageBadge, Stars, Tags, customerErrorText, orDash,
} from '../components/customers.js';

const PAGE_SIZE = 50;
const NO_FILTERS = { stage: '', grade: '', tag: '', channel: '' };

function listUrl(filters, cursor) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(filters)) if (v && v.trim()) q.set(k, v.trim());
  q.set('limit', String(PAGE_SIZE));
  if (cursor) q.set('cursor', cursor);
  return `/api/v1/customers?${q}`;
}

export function customerHref(id) {
  return `/customers/${encodeURIComponent(id)}`;
}

export function CustomersPage() {
  const [filters, setFilters] = useState(NO_FILTERS);
  const [draft, setDraft] = useState(NO_FILTERS);
  const [state, setState] = useState({ status: 'loading' });
  const [more, setMore] = useState({ busy: false, error: null });
  const [creating, setCreating] = useState(queryParam('new') === '1' && can('customer.create'));

  const load = async (f = filters) => {
    setState({ status: 'loading' });
    setMore({ busy: false, error: null });
    try {
      const page = await api('GET', listUrl(f));
      setState({ status: 'ready', items: page.items, cursor: page.next_cursor, total: page.total });
    } catch (error) {
      setState({ status: 'error', error });
    }
  };
  useEffect(() => {
    load(filters);
  }, [filters]);

  const loadMore = async () => {
    setMore({ busy: true, error: null });
    try {
      const page = await api('GET', listUrl(filters, state.cursor));
      setState((s) => ({ ...s, items: [...s.items, ...page.items], cursor: page.next_cursor, total: page.total }));
      setMore({ busy: false, error: null });
    } catch (error) {
      setMore({ busy: false, error });
    }
  };

  const applyFilters = (event) => {
    event.preventDefault();
    setFilters({ ...draft });
  };
  const setSelect = (name) => (event) => {
    const next = { ...draft, [name]: event.currentTarget.value };
    setDraft(next);
    setFilters(next);
  };
  const clear = () => {
    setDraft(NO_FILTERS);
    setFilters(NO_FILTERS);
  };
  const filtered = Object.values(filters).some((v) => v.trim());
  const canCreate = can('customer.create');
  const openCreate = () => setCreating(true);

  let body;
  if (state.status === 'loading') body = html`<${Loading} testid="customers-loading" />`;
  else if (state.status === 'error') body = html`<${LoadError} error=${state.error} onRetry=${() => load()} testid="customers-error" />`;
  else if (!state.items.length) {
    body = filtered
      ? html`<${EmptyState} icon="search" title=${t('customers.noMatch.title')} body=${t('customers.noMatch.body')} testid="customers-empty">
          <button type="button" class="btn" onClick=${clear}>${t('customers.filters.clear')}</button>
        <//>`
      : html`<${EmptyState} icon="contacts" title=${t('customers.empty.title')} body=${t('customers.empty.body')} testid="customers-empty">
          ${canCreate && html`<button type="button" class="btn btn-primary" onClick=${openCreate} data-testid="customers-empty-create">
            <${Icon} name="plus" size=${16} /><span>${t('customers.create.button')}</span></button>`}
        <//>`;
  } else {
    body = html`<div class="table-wrap">
      <table class="table table-customers" data-testid="customers-table">
        <thead><tr>
          <th scope="col">${t('customers.field.name')}</th>
          <th scope="col">${t('customers.field.phone')}</th>
          <th scope="col">${t('customers.field.city')}</th>
          <th scope="col">${t('customers.field.stage')}</th>
          <th scope="col">${t('customers.field.grade')}</th>
          <th scope="col">${t('customers.field.stars')}</th>
          <th scope="col">${t('customers.field.tags')}</th>
          <th scope="col">${t('customers.field.nextFollowup')}</th>
          <th scope="col">${t('common.createdAt')}</th>
        </tr></thead>
        <tbody>
          ${state.items.map((c) => html`<tr key=${c.id} class="row-link" data-testid="customer-row" data-id=${c.id}
            onClick=${(e) => { if (!e.target.closest('a')) navigate(customerHref(c.id)); }}>
            <td><a href=${customerHref(c.id)} class="row-title" data-testid="customer-row-link">${c.name}</a>
              ${c.duplicate_flag && html`<span class="tag tag-action tone-warning" title=${t('customers.duplicateFlag.title')}>${t('customers.duplicateFlag')}</span>`}</td>
            <td class="mono nowrap">${c.phone}</td>
            <td>${orDash(c.city)}</td>
            <td><${StageBadge} stage=${c.stage} /></td>
            <td>${orDash(c.grade)}</td>
            <td class="nowrap"><${Stars} value=${c.stars} /></td>
            <td class="cell-tags"><${Tags} tags=${c.tags} /></td>
            <td class="nowrap">${formatDateTime(c.next_followup_at, { seconds: false })}</td>
            <td class="nowrap">${formatDateTime(c.created_at, { seconds: false })}</td>
          </tr>`)}
        </tbody>
      </table>
    </div>
    <div class="list-foot">
      <span class="muted" data-testid="customers-shown">${t('customers.shown', { shown: state.items.length, total: state.total })}</span>
      ${more.error && html`<span class="field-error" role="alert">${customerErrorText(more.error)}</span>`}
      ${state.cursor
        ? html`<button type="button" class="btn" onClick=${loadMore} disabled=${more.busy} data-testid="customers-more">
            ${more.busy ? t('common.loading') : t('customers.loadMore')}</button>`
        : html`<span class="muted" data-testid="customers-end">${t('customers.end')}</span>`}
    </div>`;
  }

  return html`<section class="page page-wide" data-testid="page-customers">
    <header class="page-header page-header-row">
      <div>
        <h1 class="page-title">${t('customers.title')}</h1>
        <p class="page-subtitle">${state.status === 'ready'
          ? html`<span data-testid="customers-total">${t('customers.total', { count: state.total })}</span>`
          : t('customers.subtitle')}</p>
      </div>
      ${canCreate && html`<button type="button" class="btn btn-primary" data-testid="customer-create" onClick=${openCreate}>
        <${Icon} name="plus" size=${16} /><span>${t('customers.create.button')}</span>
      </button>`}
    </header>
    <div class="card card-flush">
      <form class="toolbar" role="search" aria-label=${t('customers.filters')} onSubmit=${applyFilters} data-testid="customers-filters">
        <label class="toolbar-field">
          <span>${t('customers.field.stage')}</span>
          <select class="input input-sm select" value=${draft.stage} onChange=${setSelect('stage')} data-testid="filter-stage">
            <option value="">${t('customers.filters.all')}</option>
            ${STAGES.map((s) => html`<option key=${s.value} value=${s.value}>${t(s.labelKey)}</option>`)}
          </select>
        </label>
        <label class="toolbar-field">
          <span>${t('customers.field.grade')}</span>
          <select class="input input-sm select" value=${draft.grade} onChange=${setSelect('grade')} data-testid="filter-grade">
            <option value="">${t('customers.filters.all')}</option>
            ${GRADES.map((g) => html`<option key=${g} value=${g}>${g}</option>`)}
          </select>
        </label>
        <label class="toolbar-field">
          <span>${t('customers.field.tag')}</span>
          <input class="input input-sm filter-text" value=${draft.tag} data-testid="filter-tag"
            onInput=${(e) => setDraft({ ...draft, tag: e.currentTarget.value })} />
        </label>
        <label class="toolbar-field">
          <span>${t('customers.field.channel')}</span>
          <input class="input input-sm filter-text" value=${draft.channel} data-testid="filter-channel"
            onInput=${(e) => setDraft({ ...draft, channel: e.currentTarget.value })} />
        </label>
        <button type="submit" class="btn btn-sm" data-testid="filter-apply">${t('customers.filters.apply')}</button>
        ${filtered && html`<button type="button" class="btn btn-sm btn-text" onClick=${clear} data-testid="filter-clear">${t('customers.filters.clear')}</button>`}
      </form>
      ${body}
    </div>
    ${creating && html`<${CustomerDialog} onClose=${() => setCreating(false)} onDone=${(c) => {
      setCreating(false);
      toast(t('customers.created', { name: c.name }));
      navigate(customerHref(c.id));
    }} />`}
  </section>`;
}
