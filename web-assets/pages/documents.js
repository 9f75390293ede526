// /documents — documents held: the originals the firm holds now (received or lent out) on the deals the
// user sees, filtered by status or overdue (lent out longer than the configured days), paged,
// exportable as XLSX.
import { useEffect, useState } from '../vendor/preact/hooks.module.js';
import { html } from '../html.js';
import { t } from '../i18n/index.js';
import { api } from '../api.js';
import { formatDateTime } from '../format.js';
import { EmptyState, LoadError, Loading } from '../components/states.js';
import { DocStatusBadge } from '../components/documents.js';
import { errorText } from '../errors.js';

function query({ status, overdue }, cursor) {
  const q = new URLSearchParams();
  if (status) q.set('status', status);
  if (overdue) q.set('overdue', '1');
  if (cursor) q.set('cursor', cursor);
  return q.toString();
}

function Rows({ items }) {
  return html`<div class="table-wrap"><table class="table" data-testid="custody-table">
    <thead><tr>
      <th>${t('custody.col.customer')}</th>
      <th>${t('custody.col.document')}</th>
      <th>${t('custody.col.status')}</th>
      <th>${t('custody.col.where')}</th>
      <th>${t('custody.col.since')}</th>
    </tr></thead>
    <tbody>${items.map((r) => html`<tr key=${`${r.deal_id}/${r.item_id}`} data-testid="custody-row">
      <td><a href=${`/deals/${encodeURIComponent(r.deal_id)}`}>${r.customer_name}</a>
        <div class="muted">${r.lender} · ${r.product_name}</div></td>
      <td>${r.name}</td>
      <td><${DocStatusBadge} status=${r.status} />
        ${r.overdue && html` <span class="badge badge-danger" data-testid="custody-overdue">${t('documents.overdue')}</span>`}</td>
      <td>${r.status === 'lent_out' ? (r.holder || '—') : (r.custodian_name || '—')}</td>
      <td>${r.status === 'lent_out'
        ? html`${formatDateTime(r.out_at, { seconds: false })} <span class="muted">${t('custody.days', { days: r.days_out })}</span>`
        : formatDateTime(r.received_at, { seconds: false })}</td>
    </tr>`)}</tbody>
  </table></div>`;
}

export function DocumentsPage() {
  const [filter, setFilter] = useState({ status: '', overdue: false });
  const [state, setState] = useState({ status: 'loading' });
  const [more, setMore] = useState(false);
  const load = async (f = filter) => {
    setState({ status: 'loading' });
    try {
      setState({ status: 'ready', page: await api('GET', `/api/v1/documents/custody?${query(f)}`) });
    } catch (error) {
      setState({ status: 'error', error });
    }
  };
  useEffect(() => { load(filter); }, [filter.status, filter.overdue]);
  const loadMore = async () => {
    setMore(true);
    try {
      const next = await api('GET', `/api/v1/documents/custody?${query(filter, state.page.next_cursor)}`);
      setState({ status: 'ready', page: { ...next, items: [...state.page.items, ...next.items] } });
    } catch (error) {
      setState({ ...state, moreError: errorText(error) });
    } finally {
      setMore(false);
    }
  };
  let body;
  if (state.status === 'loading') body = html`<${Loading} />`;
  else if (state.status === 'error') body = html`<${LoadError} error=${state.error} onRetry=${() => load()} />`;
  else if (!state.page.items.length) {
    body = html`<${EmptyState} icon="folder" title=${filter.overdue ? t('custody.emptyOverdue') : t('custody.empty')}
      body=${t('custody.emptyBody')} testid="custody-empty" />`;
  } else {
    body = html`<p class="muted" data-testid="custody-total">${t('custody.total', { count: state.page.total })}</p>
      <${Rows} items=${state.page.items} />
      ${state.moreError && html`<div class="form-error" role="alert">${state.moreError}</div>`}
      ${state.page.next_cursor && html`<button type="button" class="btn" disabled=${more} onClick=${loadMore}
        data-testid="custody-more">${t('custody.more')}</button>`}`;
  }
  return html`<section class="page page-wide" data-testid="page-documents">
    <header class="page-header page-header-row">
      <div>
        <h1 class="page-title">${t('custody.title')}</h1>
        <p class="page-subtitle">${state.page ? t('custody.subtitle', { days: state.page.overdue_days }) : ''}</p>
      </div>
      <div class="page-actions">
        <a class="btn" href=${`/api/v1/documents/custody/export?${query(filter)}`} download
          data-testid="custody-export">${t('custody.export')}</a>
      </div>
    </header>
    <div class="toolbar">
      <label class="toolbar-field">${t('custody.filter.status')}
        <select class="input" value=${filter.status} data-testid="custody-status"
          onChange=${(e) => setFilter({ ...filter, status: e.currentTarget.value })}>
          <option value="">${t('custody.filter.allHeld')}</option>
          <option value="received">${t('documents.status.received')}</option>
          <option value="lent_out">${t('documents.status.lent_out')}</option>
        </select>
      </label>
      <label class="toolbar-field">
        <input type="checkbox" checked=${filter.overdue} data-testid="custody-overdue-only"
          onChange=${(e) => setFilter({ ...filter, overdue: e.currentTarget.checked })} />
        ${t('custody.filter.overdue')}
      </label>
    </div>
    ${body}
  </section>`;
}
