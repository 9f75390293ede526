// /customers — the customer list (capability customer.read):
// view tabs (the built-in mine / team / all views and the user's saved views, plus the recycle bin for admins),
// filters and sort sent as GET /api/v1/customers query parameters, paging by
// next_cursor ("load more"), the total, optional custom-field columns, row
// checkboxes with a bulk action bar (on a phone: a checkbox on each card, the same bar), and the
// new-customer dialog.
import { useEffect, useRef, useState } from '../vendor/preact/hooks.module.js';
import { html } from '../html.js';
import { t } from '../i18n/index.js';
import { api } from '../api.js';
import { can } from '../auth.js';
import { navigate, queryParam } from '../router.js';
import { formatDateTime } from '../format.js';
import { EmptyState, LoadError, Loading } from '../components/states.js';
import { customText, loadCustomerSettings, loadDirectory } from '../components/customer-settings.js';
import { BulkBar, RecycleBin, SaveViewDialog } from '../components/customer-bulk.js';
import { ExportDialog } from '../components/customer-export.js';
import { Icon } from '../components/icons.js';
import { toast } from '../components/toast.js';
import { useNarrow } from '../components/narrow.js';
import {
  CustomerDialog, GRADES, STAGES, StageBadge, Stars, Tags, customerErrorText, orDash,
} from '../components/customers.js';

const PAGE_SIZE = 50;
const NO_FILTERS = {
  q: '', stage: '', grade: '', tag: '', channel: '', due: '', flagged: '', created_from: '', created_to: '', sort: '',
};
const SORTS = ['-created_at', 'created_at', '-updated_at', 'updated_at', 'next_followup_at', 'name'];
const COLUMNS_KEY = 'zhudai.customers.columns';

/** The user's own choice of custom columns, or null (then the fields marked show_in_list). */
const BUILTIN_VIEW_KEYS = { mine: 'cx.view.mine', team: 'cx.view.team', all: 'cx.view.all' };

/** A built-in view in the reader's language; a saved view by the name its owner gave it. */
function viewName(v) {
  const key = v.builtin && BUILTIN_VIEW_KEYS[v.id];
  return key ? t(key) : v.name;
}

function storedColumns() {
  try {
    const v = JSON.parse(localStorage.getItem(COLUMNS_KEY) || 'null');
    return Array.isArray(v) ? v : null;
  } catch {
    return null;
  }
}

/** A saved view's filter → the page's filter values. */
function filtersOfView(view) {
  const f = { ...NO_FILTERS };
  for (const [k, v] of Object.entries((view && view.filter) || {})) {
    if (v == null || k === 'whose') continue;
    if (k in f) f[k] = String(v);
  }
  return f;
}

/** Counts per stage of the customers the list shows (the same query, filters and view, counted
 * by the server the same way as the list's total); the stage filter itself is left out so every
 * stage shows its count. */
async function loadStageFacets(filters, view) {
  const q = listParams({ ...filters, stage: '', sort: '' }, view);
  try {
    const counts = await api('GET', `/api/v1/customers/stage-counts?${q}`);
    return { counts: counts.stage || {} };
  } catch {
    return null;
  }
}

/** The list's query parameters: its filters and the view's `whose`. */
function listParams(filters, view) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(filters)) if (v && v.trim()) q.set(k, v.trim());
  if (view && view.filter && view.filter.whose) q.set('whose', view.filter.whose);
  return q;
}

function listUrl(filters, cursor, view) {
  const q = listParams(filters, view);
  q.set('limit', String(PAGE_SIZE));
  if (cursor) q.set('cursor', cursor);
  return `/api/v1/customers?${q}`;
}

export function customerHref(id) {
  return `/customers/${encodeURIComponent(id)}`;
}

/** The list's filters as the address says (`?stage=signed&tag=…`): Back, a reload or a shared
 * link shows the same list. */
function filtersFromUrl() {
  const f = { ...NO_FILTERS };
  for (const k of Object.keys(NO_FILTERS)) f[k] = queryParam(k) || '';
  return f;
}

/** The address of the list with these filters and view (the view `all` is the default). */
function addressOf(filters, viewId) {
  const q = new URLSearchParams();
  if (viewId && viewId !== 'all') q.set('view', viewId);
  for (const [k, v] of Object.entries(filters)) {
    // A search holding a phone or ID number (six digits or more) stays out of the address:
    // the browser's history would keep the full number.
    if (k === 'q' && /\d{6}/.test(v.replace(/[\s-]/g, ''))) continue;
    if (v && v.trim()) q.set(k, v.trim());
  }
  const s = q.toString();
  return s ? `/customers?${s}` : '/customers';
}

const SCROLL_KEY = 'zhudai.customers.scroll';

export function CustomersPage() {
  const [views, setViews] = useState([]);
  const [viewId, setViewId] = useState(queryParam('view') || 'all');
  // `?q=` comes from the top-bar search's "show all"; the other filters from the address too.
  const [filters, setFilters] = useState(filtersFromUrl);
  const [draft, setDraft] = useState(filtersFromUrl);
  const [state, setState] = useState({ status: 'loading' });
  const [stageCounts, setStageCounts] = useState(null);
  const [more, setMore] = useState({ busy: false, error: null });
  const [creating, setCreating] = useState(queryParam('new') === '1' && can('customer.create'));
  const [selected, setSelected] = useState([]);
  const [exporting, setExporting] = useState(false);
  const [settings, setSettings] = useState({ fields: [], groups: [] });
  const [directory, setDirectory] = useState([]);
  const [columns, setColumns] = useState(storedColumns);
  const [saving, setSaving] = useState(false);
  const [drawer, setDrawer] = useState(false);
  const narrow = useNarrow();
  const isAdmin = can('settings.manage') && can('customer.delete');
  const view = views.find((v) => v.id === viewId) || null;
  const inBin = viewId === 'recycle-bin';
  // The top bar's "open in the customer list" while this page is open: the route changes, the
  // page stays mounted, so a new `?q=` becomes the search (and the other filters clear).
  const urlQ = queryParam('q') || '';
  const shownQ = useRef(urlQ);
  useEffect(() => {
    if (urlQ === shownQ.current) return;
    shownQ.current = urlQ;
    const next = { ...NO_FILTERS, q: urlQ };
    setDraft(next);
    setFilters(next);
  }, [urlQ]);

  const loadViews = async () => {
    try {
      setViews(await api('GET', '/api/v1/customer-views'));
    } catch {
      setViews([]);
    }
  };
  useEffect(() => {
    loadViews();
    loadCustomerSettings().then(setSettings);
    loadDirectory().then(setDirectory);
  }, []);

  // Only the latest load may fill the list: an earlier one answering late (a reload after a
  // bulk action, then a filter) put the unfiltered rows back under the filter.
  const loads = useRef(0);
  const here = useRef('/customers');
  const load = async (f = filters) => {
    const mine = ++loads.current;
    setState({ status: 'loading' });
    setMore({ busy: false, error: null });
    setSelected([]);
    try {
      const page = await api('GET', listUrl(f, null, view));
      if (mine !== loads.current) return;
      setState({ status: 'ready', items: page.items, cursor: page.next_cursor, total: page.total });
      loadStageFacets(f, view).then((c) => { if (mine === loads.current) setStageCounts(c); });
    } catch (error) {
      if (mine === loads.current) setState({ status: 'error', error });
    }
  };
  useEffect(() => {
    if (!inBin) load(filters);
    // The address follows the list (replacing, not adding, history entries).
    const to = addressOf(filters, viewId);
    here.current = to;
    if (to !== location.pathname + location.search) {
      // What the address says now (a number kept out of it is not a new search).
      shownQ.current = new URL(to, location.href).searchParams.get('q') || '';
      navigate(to, { replace: true });
    }
  }, [filters, viewId, views.length]);

  // Back from a customer: the list scrolls to where it was. The position is kept per address
  // as the user scrolls (at unmount the router has already scrolled to the top).
  const scrolled = useRef(0);
  useEffect(() => {
    const onScroll = () => { scrolled.current = window.scrollY; };
    window.addEventListener('scroll', onScroll, { passive: true });
    return () => {
      window.removeEventListener('scroll', onScroll);
      sessionStorage.setItem(SCROLL_KEY, JSON.stringify({ at: here.current, y: scrolled.current }));
    };
  }, []);
  const restored = useRef(false);
  useEffect(() => {
    if (restored.current || state.status !== 'ready') return;
    restored.current = true;
    try {
      const kept = JSON.parse(sessionStorage.getItem(SCROLL_KEY) || 'null');
      if (kept && kept.at === location.pathname + location.search && kept.y > 0) {
        requestAnimationFrame(() => window.scrollTo(0, kept.y));
      }
    } catch {
      // An unreadable entry is only a lost scroll position.
    }
  }, [state.status]);

  const loadMore = async () => {
    const mine = loads.current;
    setMore({ busy: true, error: null });
    try {
      const page = await api('GET', listUrl(filters, state.cursor, view));
      // A filter changed meanwhile: this page belongs to the list before it.
      if (mine !== loads.current) return;
      setState((s) => (s.status === 'ready'
        ? { ...s, items: [...s.items, ...page.items], cursor: page.next_cursor, total: page.total }
        : s));
      setMore({ busy: false, error: null });
    } catch (error) {
      if (mine === loads.current) setMore({ busy: false, error });
    }
  };

  const pickView = (v) => {
    setViewId(v.id);
    const f = filtersOfView(v);
    setDraft(f);
    setFilters(f);
  };
  const applyFilters = (event) => {
    event.preventDefault();
    setFilters({ ...draft });
    setDrawer(false);
  };
  // On a wide screen a select applies at once; in the phone's drawer it waits for the apply button.
  const setSelect = (name) => (event) => {
    const next = { ...draft, [name]: event.currentTarget.value };
    setDraft(next);
    if (!narrow) setFilters(next);
  };
  const clear = () => {
    setDraft(NO_FILTERS);
    setFilters(NO_FILTERS);
    setDrawer(false);
  };
  const shownColumns = columns ?? settings.fields.filter((d) => d.show_in_list).map((d) => d.key);
  const toggleColumn = (key) => {
    const next = shownColumns.includes(key) ? shownColumns.filter((k) => k !== key) : [...shownColumns, key];
    setColumns(next);
    try { localStorage.setItem(COLUMNS_KEY, JSON.stringify(next)); } catch { /* private mode */ }
  };
  const ownerName = (id) => {
    if (!id) return t('customers.pool');
    const u = directory.find((x) => x.id === id);
    return u ? u.display_name : '—';
  };
  const filtered = Object.values(filters).some((v) => v.trim());
  const activeFilters = Object.entries(filters).filter(([k, v]) => k !== 'sort' && v.trim()).length;
  const canCreate = can('customer.create');
  const openCreate = () => setCreating(true);
  const customCols = settings.fields.filter((d) => d.active && shownColumns.includes(d.key));
  const items = state.status === 'ready' ? state.items : [];
  const allSelected = items.length > 0 && items.every((c) => selected.includes(c.id));
  const toggleRow = (id) => setSelected((sel) => (sel.includes(id) ? sel.filter((x) => x !== id) : [...sel, id]));
  const toggleAll = () => setSelected(allSelected ? [] : items.map((c) => c.id));

  let body;
  if (inBin) body = html`<${RecycleBin} />`;
  else if (state.status === 'loading') body = html`<${Loading} testid="customers-loading" />`;
  else if (state.status === 'error') body = html`<${LoadError} error=${state.error} onRetry=${() => load()} testid="customers-error" />`;
  else if (!state.items.length) {
    body = filtered || (view && view.filter && view.filter.whose)
      ? html`<${EmptyState} icon="search" title=${t('customers.noMatch.title')} body=${t('customers.noMatch.body')} testid="customers-empty">
          <button type="button" class="btn" onClick=${clear}>${t('customers.filters.clear')}</button>
        <//>`
      : html`<${EmptyState} icon="contacts" title=${t('customers.empty.title')} body=${t('customers.empty.body')} testid="customers-empty">
          ${canCreate && html`<button type="button" class="btn btn-primary" onClick=${openCreate} data-testid="customers-empty-create">
            <${Icon} name="plus" size=${16} /><span>${t('customers.create.button')}</span></button>`}
        <//>`;
  } else {
    body = html`
    ${selected.length > 0 && html`<${BulkBar} ids=${selected} groups=${settings.groups} directory=${directory}
      onDone=${() => load()} onClear=${() => setSelected([])} />`}
    ${narrow ? html`<ul class="customer-cards" data-testid="customer-cards">
      ${state.items.map((c) => html`<li key=${c.id} class=${`customer-card${selected.includes(c.id) ? ' is-selected' : ''}`}
        data-testid="customer-card" data-id=${c.id}
        onClick=${(e) => { if (!e.target.closest('a, .card-check')) navigate(customerHref(c.id)); }}>
        <div class="customer-card-head">
          <label class="card-check"><input type="checkbox" checked=${selected.includes(c.id)} onChange=${() => toggleRow(c.id)}
            aria-label=${t('cx.bulk.select', { name: c.name })} data-testid="customer-card-check" /></label>
          <a href=${customerHref(c.id)} class="row-title" data-testid="customer-card-link">${c.name}</a>
          <${StageBadge} stage=${c.stage} />
        </div>
        <dl class="customer-card-facts">
          <dt>${t('customers.field.phone')}</dt><dd class="mono" data-testid="customer-card-phone">${c.phone || '—'}</dd>
          <dt>${t('customer.owner')}</dt><dd data-testid="customer-card-owner">${ownerName(c.owner_id)}</dd>
          <dt>${t('customers.field.nextFollowup')}</dt><dd data-testid="customer-card-next">${formatDateTime(c.next_followup_at, { seconds: false })}</dd>
        </dl>
      </li>`)}
    </ul>` : html`<div class="table-wrap">
      <table class="table table-customers" data-testid="customers-table">
        <thead><tr>
          <th scope="col" class="cell-check"><input type="checkbox" checked=${allSelected} onChange=${toggleAll}
            aria-label=${t('cx.bulk.selectAll')} data-testid="customers-select-all" /></th>
          <th scope="col">${t('customers.field.name')}</th>
          <th scope="col">${t('customers.field.phone')}</th>
          <th scope="col">${t('customers.field.city')}</th>
          <th scope="col">${t('customers.field.stage')}</th>
          <th scope="col">${t('customers.field.grade')}</th>
          <th scope="col">${t('customers.field.stars')}</th>
          <th scope="col">${t('customers.field.tags')}</th>
          <th scope="col">${t('customer.owner')}</th>
          <th scope="col">${t('customers.field.nextFollowup')}</th>
          <th scope="col">${t('common.createdAt')}</th>
          ${customCols.map((d) => html`<th scope="col" key=${d.key}>${d.label}</th>`)}
        </tr></thead>
        <tbody>
          ${state.items.map((c) => html`<tr key=${c.id} class="row-link" data-testid="customer-row" data-id=${c.id}
            onClick=${(e) => { if (!e.target.closest('a') && !e.target.closest('.cell-check')) navigate(customerHref(c.id)); }}>
            <td class="cell-check"><input type="checkbox" checked=${selected.includes(c.id)} onChange=${() => toggleRow(c.id)}
              aria-label=${t('cx.bulk.select', { name: c.name })} data-testid="customer-row-check" /></td>
            <td><a href=${customerHref(c.id)} class="row-title" data-testid="customer-row-link">${c.name}</a>
              ${c.duplicate_flag && html`<span class="tag tag-action tone-warning" title=${t('customers.duplicateFlag.title')}>${t('customers.duplicateFlag')}</span>`}</td>
            <td class="mono nowrap">${c.phone}</td>
            <td>${orDash(c.city)}</td>
            <td><${StageBadge} stage=${c.stage} /></td>
            <td>${orDash(c.grade)}</td>
            <td class="nowrap"><${Stars} value=${c.stars} /></td>
            <td class="cell-tags" data-testid="customer-row-tags"><${Tags} tags=${c.tags} /></td>
            <td class="nowrap" data-testid="customer-row-owner">${ownerName(c.owner_id)}</td>
            <td class="nowrap">${formatDateTime(c.next_followup_at, { seconds: false })}</td>
            <td class="nowrap">${formatDateTime(c.created_at, { seconds: false })}</td>
            ${customCols.map((d) => html`<td key=${d.key} data-testid=${`customer-row-custom-${d.key}`}>${customText(d, (c.custom || {})[d.key])}</td>`)}
          </tr>`)}
        </tbody>
      </table>
    </div>`}
    <div class="list-foot">
      <span class="muted" data-testid="customers-shown">${t('customers.shown', { shown: state.items.length, total: state.total })}</span>
      ${more.error && html`<span class="field-error" role="alert">${customerErrorText(more.error)}</span>`}
      ${state.cursor
        ? html`<button type="button" class="btn" onClick=${loadMore} disabled=${more.busy} data-testid="customers-more">
            ${more.busy ? t('common.loading') : t('customers.loadMore')}</button>`
        : html`<span class="muted" data-testid="customers-end">${t('customers.end')}</span>`}
    </div>`;
  }

  const removeView = async (v) => {
    try {
      await api('DELETE', `/api/v1/customer-views/${encodeURIComponent(v.id)}`);
      if (viewId === v.id) pickView({ id: 'all', filter: {} });
      loadViews();
    } catch (error) {
      toast(customerErrorText(error));
    }
  };

  return html`<section class="page page-wide" data-testid="page-customers">
    <header class="page-header page-header-row">
      <div>
        <h1 class="page-title">${t('customers.title')}</h1>
        <p class="page-subtitle">${state.status === 'ready' && !inBin
          ? html`<span data-testid="customers-total">${t('customers.total', { count: state.total })}</span>`
          : t('customers.subtitle')}</p>
      </div>
      <div class="page-actions">
        ${can('customer.import') && html`<button type="button" class="btn" data-testid="customer-import" onClick=${() => navigate('/customers/import')}>
          <span>${t('customers.import.button')}</span>
        </button>`}
        ${can('customer.export') && !inBin && html`<button type="button" class="btn" data-testid="customer-export" onClick=${() => setExporting(true)}>
          <span>${t('customers.export.button')}</span>
        </button>`}
        ${canCreate && html`<button type="button" class="btn btn-primary" data-testid="customer-create" onClick=${openCreate}>
          <${Icon} name="plus" size=${16} /><span>${t('customers.create.button')}</span>
        </button>`}
      </div>
    </header>
    <div class="view-tabs" role="tablist" aria-label=${t('cx.views')} data-testid="customer-views">
      ${views.map((v) => html`<span class="view-tab-wrap" key=${v.id}>
        <button type="button" role="tab" aria-selected=${viewId === v.id ? 'true' : 'false'}
          class=${`view-tab${viewId === v.id ? ' is-active' : ''}`} onClick=${() => pickView(v)}
          data-testid=${`view-tab-${v.builtin ? v.id : 'saved'}`} data-name=${v.name}>${viewName(v)}</button>
        ${!v.builtin && html`<button type="button" class="btn btn-sm btn-text" aria-label=${t('cx.views.delete', { name: v.name })}
          onClick=${() => removeView(v)} data-testid="view-delete">×</button>`}
      </span>`)}
      ${isAdmin && html`<button type="button" role="tab" aria-selected=${inBin ? 'true' : 'false'}
        class=${`view-tab${inBin ? ' is-active' : ''}`} onClick=${() => setViewId('recycle-bin')}
        data-testid="view-tab-recycle-bin">${t('cx.bin.title')}</button>`}
    </div>
    <div class="card card-flush">
      ${!inBin && narrow && html`<div class="toolbar filter-bar">
        <button type="button" class="btn btn-sm" aria-expanded=${drawer ? 'true' : 'false'} onClick=${() => { setDraft({ ...filters }); setDrawer(true); }}
          data-testid="filter-open">${t('customers.filters.open')}${activeFilters > 0 ? ` (${activeFilters})` : ''}</button>
        ${filtered && html`<button type="button" class="btn btn-sm btn-text" onClick=${clear} data-testid="filter-clear-bar">${t('customers.filters.clear')}</button>`}
        ${items.length > 0 && html`<label class="check card-select-all"><input type="checkbox" checked=${allSelected} onChange=${toggleAll}
          data-testid="customers-select-all" /><span>${t('cx.bulk.selectAll')}</span></label>`}
      </div>`}
      ${!inBin && narrow && drawer && html`<div class="drawer-backdrop" onClick=${() => setDrawer(false)} data-testid="filter-backdrop"></div>`}
      ${!inBin && (!narrow || drawer) && html`<form class=${narrow ? 'toolbar filter-drawer' : 'toolbar'} role="search" aria-label=${t('customers.filters')}
        onSubmit=${applyFilters} data-testid="customers-filters">
        ${narrow && html`<div class="filter-drawer-head"><h2 class="card-title">${t('customers.filters')}</h2>
          <button type="button" class="dialog-close" aria-label=${t('common.close')} onClick=${() => setDrawer(false)}
            data-testid="filter-close"><${Icon} name="close" size=${18} /></button></div>`}
        <label class="toolbar-field toolbar-search">
          <span>${t('search.label')}</span>
          <input type="search" class="input input-sm" value=${draft.q} placeholder=${t('customers.filters.qPlaceholder')}
            onInput=${(e) => setDraft((d) => ({ ...d, q: e.currentTarget.value }))} data-testid="filter-q" />
        </label>
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
        <label class="toolbar-field">
          <span>${t('cx.filter.due')}</span>
          <select class="input input-sm select" value=${draft.due} onChange=${setSelect('due')} data-testid="filter-due">
            <option value="">${t('customers.filters.all')}</option>
            ${['today', 'overdue', 'none'].map((d) => html`<option key=${d} value=${d}>${t(`cx.filter.due.${d}`)}</option>`)}
          </select>
        </label>
        <label class="toolbar-field">
          <span>${t('cx.filter.createdFrom')}</span>
          <input type="date" class="input input-sm" value=${draft.created_from} data-testid="filter-created-from"
            onChange=${setSelect('created_from')} />
        </label>
        <label class="toolbar-field">
          <span>${t('cx.filter.createdTo')}</span>
          <input type="date" class="input input-sm" value=${draft.created_to} data-testid="filter-created-to"
            onChange=${setSelect('created_to')} />
        </label>
        <label class="toolbar-field">
          <span>${t('cx.filter.flagged')}</span>
          <select class="input input-sm select" value=${draft.flagged} onChange=${setSelect('flagged')} data-testid="filter-flagged">
            <option value="">${t('customers.filters.all')}</option>
            <option value="true">${t('cx.filter.flagged.yes')}</option>
          </select>
        </label>
        <label class="toolbar-field">
          <span>${t('cx.sort')}</span>
          <select class="input input-sm select" value=${draft.sort} onChange=${setSelect('sort')} data-testid="filter-sort">
            <option value="">${t('cx.sort.-created_at')}</option>
            ${SORTS.slice(1).map((k) => html`<option key=${k} value=${k}>${t(`cx.sort.${k}`)}</option>`)}
          </select>
        </label>
        <button type="submit" class=${narrow ? 'btn btn-primary' : 'btn btn-sm'} data-testid="filter-apply">${t('customers.filters.apply')}</button>
        ${(filtered || narrow) && html`<button type="button" class="btn btn-sm btn-text" onClick=${clear} data-testid="filter-clear">${t('customers.filters.clear')}</button>`}
        ${!narrow && html`<button type="button" class="btn btn-sm btn-text" onClick=${() => setSaving(true)} data-testid="view-save">${t('cx.views.save')}</button>`}
        ${!narrow && settings.fields.some((d) => d.active) && html`<details class="column-menu" data-testid="column-menu">
          <summary class="btn btn-sm btn-text">${t('cx.columns')}</summary>
          <div class="column-menu-list">${settings.fields.filter((d) => d.active).map((d) => html`<label class="check" key=${d.key}>
            <input type="checkbox" checked=${shownColumns.includes(d.key)} onChange=${() => toggleColumn(d.key)}
              data-testid=${`column-${d.key}`} /><span class="check-label">${d.label}</span></label>`)}</div>
        </details>`}
      </form>`}
      ${!inBin && stageCounts && Object.keys(stageCounts.counts).length > 0 && html`<div class="facet-bar" data-testid="stage-facets"
        aria-label=${t('customers.facets.stage')}>
        <span class="facet-label">${t('customers.facets.stage')}</span>
        ${STAGES.filter((s) => stageCounts.counts[s.value]).map((s) => html`<button type="button" key=${s.value}
          class=${`facet-chip${filters.stage === s.value ? ' is-active' : ''}`} aria-pressed=${filters.stage === s.value}
          data-testid=${`facet-stage-${s.value}`}
          onClick=${() => { const next = { ...draft, stage: filters.stage === s.value ? '' : s.value }; setDraft(next); setFilters(next); }}>
          ${t(s.labelKey)} <b>${stageCounts.counts[s.value]}</b>
        </button>`)}
      </div>`}
      ${body}
    </div>
    ${saving && html`<${SaveViewDialog} filters=${filters} whose=${view && view.filter ? view.filter.whose : null}
      onClose=${() => setSaving(false)} onSaved=${(v) => { setSaving(false); loadViews().then(() => pickView(v)); }} />`}
    ${creating && html`<${CustomerDialog} onClose=${() => setCreating(false)} onDone=${(c) => {
      setCreating(false);
      toast(t('customers.created', { name: c.name }));
      navigate(customerHref(c.id));
    }} />`}
    ${exporting && html`<${ExportDialog} filters=${filters} view=${view} onClose=${() => setExporting(false)} />`}
  </section>`;
}
