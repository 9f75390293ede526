// Transfer requests on the dashboard (issue 17.6): pending requests I may decide — approve
// (the customer moves to the requester) or reject with a reason — and the status of my own.
// Shown only when there is something in either list.
import { useEffect, useState } from '../vendor/preact/hooks.module.js';
import { html } from '../html.js';
import { t } from '../i18n/index.js';
import { api } from '../api.js';
import { errorText } from '../errors.js';
import { formatDateTime } from '../format.js';
import { toast } from './toast.js';
import { NOTICES_CHANGED } from './notice-count.js';

function Decide({ r, onDone }) {
  const [note, setNote] = useState('');
  const [rejecting, setRejecting] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const send = async (approve) => {
    setBusy(true);
    setError(null);
    try {
      await api('POST', `/api/v1/transfer-requests/${encodeURIComponent(r.id)}/decision`, { approve, note: note.trim() || null });
      toast(approve ? t('transfers.approved') : t('transfers.rejected'));
      window.dispatchEvent(new Event(NOTICES_CHANGED));
      onDone();
    } catch (e) {
      setBusy(false);
      setError(errorText(e));
    }
  };
  return html`<div class="transfer-actions">
    ${rejecting
      ? html`<input class="input" value=${note} placeholder=${t('transfers.note')} maxlength="200"
          onInput=${(e) => setNote(e.currentTarget.value)} data-testid="transfer-note" />
        <button type="button" class="btn btn-sm btn-danger" disabled=${busy || !note.trim()} onClick=${() => send(false)}
          data-testid="transfer-reject-send">${t('transfers.reject')}</button>`
      : html`<button type="button" class="btn btn-sm btn-primary" disabled=${busy} onClick=${() => send(true)}
          data-testid="transfer-approve">${t('transfers.approve')}</button>
        <button type="button" class="btn btn-sm" disabled=${busy} onClick=${() => setRejecting(true)}
          data-testid="transfer-reject">${t('transfers.reject')}</button>`}
    ${error && html`<span class="field-error" role="alert">${error}</span>`}
  </div>`;
}

export function TransferRequestsCard() {
  const [state, setState] = useState(null);
  const load = () => api('GET', '/api/v1/transfer-requests')
    .then(setState)
    .catch((e) => setState({ error: errorText(e), to_decide: [], mine: [] }));
  useEffect(() => { load(); }, []);
  if (!state || (!state.error && !state.to_decide.length && !state.mine.length)) return null;
  return html`<div class="card" data-testid="transfer-requests">
    <h2 class="card-title">${t('transfers.title')}</h2>
    ${state.error && html`<div class="form-error" role="alert">${state.error}</div>`}
    ${state.to_decide.length > 0 && html`<ul class="reminder-list">${state.to_decide.map((r) => html`<li key=${r.id} data-testid="transfer-pending">
      <div><a href=${`/customers/${encodeURIComponent(r.customer_id)}`}>${r.customer_name}</a>
        <span class="muted"> · ${t('transfers.from', { requester: r.requester, owner: r.owner || '—' })}</span></div>
      <div class="muted">${r.reason} · ${formatDateTime(r.created_at)}</div>
      <${Decide} r=${r} onDone=${load} />
    </li>`)}</ul>`}
    ${state.mine.length > 0 && html`<h3 class="section-title">${t('transfers.mine')}</h3>
      <ul class="reminder-list">${state.mine.slice(0, 5).map((r) => html`<li key=${r.id} data-testid="transfer-mine">
        ${r.customer_id ? html`<a href=${`/customers/${encodeURIComponent(r.customer_id)}`}>${r.customer_name}</a>` : r.customer_name}${' '}
        <span class=${`badge ${r.status === 'approved' ? 'badge-success' : r.status === 'rejected' ? 'badge-warning' : ''}`}>${t(`transfers.status.${r.status}`)}</span>
        ${r.note && html`<span class="muted"> ${r.note}</span>`}
      </li>`)}</ul>`}
  </div>`;
}
