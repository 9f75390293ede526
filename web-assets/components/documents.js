// Document custody pieces: the deal page's checklist card (status chips, the legal
// moves with a small form for the recipient and note, hand-over history, upload from the
// phone camera with progress, thumbnails and downloads) and the status labels the custody page
// shares.
import { useEffect, useState } from '../vendor/preact/hooks.module.js';
import { html } from '../html.js';
import { t } from '../i18n/index.js';
import { api, csrfHeader } from '../api.js';
import { errorText, placeError } from '../errors.js';
import { formatDateTime } from '../format.js';
import { Field } from './field.js';
import { ConfirmDialog, FormDialog } from './dialog.js';
import { LoadError, Loading } from './states.js';
import { toast } from './toast.js';

const TONES = { pending: 'muted', received: 'success', lent_out: 'warning', returned: 'info', lost: 'danger' };

export function DocStatusBadge({ status }) {
  return html`<span class=${`badge badge-${TONES[status] || 'muted'}`} data-doc-status=${status}>${t(`documents.status.${status}`)}</span>`;
}

const base = (dealId) => `/api/v1/deals/${encodeURIComponent(dealId)}/documents`;

/** Sends `file` as the raw body with progress events (fetch has no upload progress). */
function uploadFile(url, file, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', url);
    xhr.setRequestHeader('Content-Type', 'application/octet-stream');
    xhr.setRequestHeader('Accept', 'application/json');
    const token = csrfHeader();
    if (token) xhr.setRequestHeader('X-CSRF-Token', token);
    xhr.upload.onprogress = (e) => { if (e.lengthComputable) onProgress(Math.round((e.loaded / e.total) * 100)); };
    xhr.onerror = () => reject({ status: 0, code: 'network' });
    xhr.onload = () => {
      let data = null;
      try { data = xhr.responseText ? JSON.parse(xhr.responseText) : null; } catch { data = null; }
      if (xhr.status >= 200 && xhr.status < 300) resolve(data);
      else {
        const e = (data && data.error) || {};
        reject({ status: xhr.status, code: e.code || `http_${xhr.status}`, message: e.message || '', field: e.field ?? null, details: e.details ?? null });
      }
    };
    xhr.send(file);
  });
}

function MoveDocDialog({ dealId, item, to, onClose, onDone }) {
  const [v, setV] = useState({ recipient: '', note: '' });
  const [errors, setErrors] = useState({});
  const [formError, setFormError] = useState('');
  const [busy, setBusy] = useState(false);
  const set = (k) => (value) => setV({ ...v, [k]: value });
  const submit = async () => {
    const body = { to };
    if (v.recipient.trim()) body.recipient = v.recipient.trim();
    if (v.note.trim()) body.note = v.note.trim();
    const local = {};
    if (to === 'lent_out' && !body.recipient) local.recipient = t('documents.move.recipientRequired');
    if (to === 'lost' && !body.note) local.note = t('documents.move.noteRequired');
    setErrors(local);
    if (Object.keys(local).length) return;
    setBusy(true);
    setFormError('');
    try {
      const saved = await api('POST', `${base(dealId)}/${encodeURIComponent(item.id)}/moves`, body);
      toast(t('documents.move.done', { name: item.name, status: t(`documents.status.${to}`) }));
      onDone(saved);
    } catch (error) {
      const placed = placeError(error, ['recipient', 'note']);
      if (placed.field) setErrors({ [placed.field]: placed.text });
      else setFormError(placed.text);
      setBusy(false);
    }
  };
  const recipientLabel = to === 'lent_out' ? t('documents.move.recipientLender')
    : to === 'received' && item.status === 'pending' ? t('documents.move.giver')
      : t('documents.move.recipient');
  return html`<${FormDialog} title=${t('documents.move.title', { name: item.name, status: t(`documents.status.${to}`) })}
    onClose=${onClose} onSubmit=${submit} busy=${busy} testid="doc-move" error=${formError}
    submitLabel=${t('documents.move.submit')}>
    ${to !== 'lost' && !(to === 'received' && item.status === 'lent_out') && html`<${Field} id="doc-recipient" label=${recipientLabel}
      value=${v.recipient} onInput=${set('recipient')} error=${errors.recipient} maxLength=${40}
      required=${to === 'lent_out'} testid="doc-move-recipient"
      hint=${to === 'lent_out' ? undefined : t('documents.move.borrowerDefault')} />`}
    <${Field} id="doc-note" label=${t('documents.move.note')} value=${v.note} onInput=${set('note')}
      error=${errors.note} maxLength=${200} required=${to === 'lost'} testid="doc-move-note" />
  <//>`;
}

function Files({ dealId, item, files, testid = 'doc-files', onRemove }) {
  const list = files || item.files;
  if (!list.length) return null;
  return html`<ul class="doc-files" data-testid=${testid}>
    ${list.map((f) => {
      // A checklist scan under its item; a deal attachment by its id (docs/api.md).
      const url = item ? `${base(dealId)}/${encodeURIComponent(item.id)}/files/${f.blob}` : `/api/v1/attachments/${f.blob}`;
      return html`<li key=${f.blob} class="doc-file" data-testid="doc-file">
        ${f.content_type.startsWith('image/') && f.content_type !== 'image/heic'
          ? html`<a href=${`${url}?inline=1`} target="_blank" rel="noopener"><img class="doc-thumb" src=${`${url}?inline=1`} alt=${f.name} loading="lazy" /></a>`
          : html`<span class="doc-thumb doc-thumb-file" aria-hidden="true">${f.content_type === 'application/pdf' ? 'PDF' : 'HEIC'}</span>`}
        <a href=${url} class="doc-file-name" data-testid="doc-file-link">${f.name}</a>
        ${onRemove && html`<button type="button" class="btn btn-sm btn-text btn-text-danger" data-testid="doc-file-remove"
          onClick=${() => onRemove(f)}>${t('common.delete')}</button>`}
      </li>`;
    })}
  </ul>`;
}

function History({ item }) {
  if (!item.history.length) return null;
  const name = (id) => item.names[id] || '—';
  return html`<details class="doc-history" data-testid="doc-history">
    <summary>${t('documents.history', { count: item.history.length })}</summary>
    <ol class="timeline">
      ${[...item.history].reverse().map((h, i) => html`<li key=${i} class="timeline-item">
        <div class="timeline-head">
          <strong>${t(`documents.status.${h.from}`)} → ${t(`documents.status.${h.to}`)}</strong>
          <span class="muted">${name(h.by)} · ${formatDateTime(h.at, { seconds: false })}</span>
        </div>
        ${(h.giver || h.receiver) && html`<p>${t('documents.handover', { giver: h.giver || '—', receiver: h.receiver || '—' })}</p>`}
        ${h.note && html`<p class="muted">${h.note}</p>`}
      </li>`)}
    </ol>
  </details>`;
}

function Item({ dealId, item, mayEdit, onMove, onChanged, onRemove }) {
  const [progress, setProgress] = useState(null);
  const onFile = async (event) => {
    const file = event.currentTarget.files && event.currentTarget.files[0];
    event.currentTarget.value = '';
    if (!file) return;
    setProgress(0);
    try {
      await uploadFile(`${base(dealId)}/${encodeURIComponent(item.id)}/files?name=${encodeURIComponent(file.name)}`, file, setProgress);
      toast(t('documents.upload.done', { name: item.name }));
      onChanged();
    } catch (error) {
      toast(errorText(error), { tone: 'error' });
    } finally {
      setProgress(null);
    }
  };
  return html`<li class="doc-item" data-testid="doc-item" data-doc-id=${item.id}>
    <div class="doc-head">
      <strong class="doc-name">${item.name}</strong>
      <${DocStatusBadge} status=${item.status} />
      ${item.overdue && html`<span class="badge badge-danger" data-testid="doc-overdue">${t('documents.overdue')}</span>`}
    </div>
    <div class="muted doc-meta">
      ${item.custodian_name && html`<span>${t('documents.custodian', { name: item.custodian_name })}</span>`}
      ${item.holder && html`<span>${t('documents.holder', { name: item.holder })}</span>`}
      ${item.out_at && html`<span>${t('documents.outSince', { at: formatDateTime(item.out_at, { seconds: false }) })}</span>`}
    </div>
    <${Files} dealId=${dealId} item=${item} />
    ${progress !== null && html`<div class="doc-progress" role="status" data-testid="doc-upload-progress">
      <progress max="100" value=${progress}></progress> <span>${progress}%</span></div>`}
    ${mayEdit && html`<div class="doc-actions">
      ${item.moves.map((to) => html`<button type="button" class="btn btn-sm" key=${to}
        data-testid=${`doc-move-${to}`} onClick=${() => onMove(item, to)}>${item.status === 'lent_out' && to === 'received'
        ? t('documents.action.receivedBack') : t(`documents.action.${to}`)}</button>`)}
      <label class="btn btn-sm" data-testid="doc-upload-label">
        ${t('documents.upload')}
        <input type="file" class="visually-hidden" accept="image/*,application/pdf" capture="environment"
          onChange=${onFile} disabled=${progress !== null} data-testid="doc-upload" />
      </label>
      ${item.status === 'pending' && html`<button type="button" class="btn btn-sm btn-text" data-testid="doc-remove"
        onClick=${() => onRemove(item)}>${t('common.delete')}</button>`}
    </div>`}
    <${History} item=${item} />
  </li>`;
}

function AddItem({ dealId, onAdded }) {
  const [name, setName] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const submit = async (event) => {
    event.preventDefault();
    if (!name.trim()) { setError(t('documents.add.required')); return; }
    setBusy(true);
    try {
      await api('POST', base(dealId), { name: name.trim() });
      setName('');
      setError('');
      onAdded();
    } catch (e) {
      setError(errorText(e));
    } finally {
      setBusy(false);
    }
  };
  return html`<form class="doc-add" onSubmit=${submit} novalidate>
    <${Field} id="doc-add-name" label=${t('documents.add.label')} value=${name} onInput=${setName}
      error=${error} maxLength=${40} testid="doc-add-name" />
    <button type="submit" class="btn btn-sm" disabled=${busy} data-testid="doc-add-submit">${t('documents.add.submit')}</button>
  </form>`;
}

/** Files of the deal itself, outside the checklist (`/deals/{id}/attachments`). */
function DealAttachments({ dealId, mayEdit }) {
  const [files, setFiles] = useState(null);
  const [error, setError] = useState(null);
  const [progress, setProgress] = useState(null);
  const [removing, setRemoving] = useState(null);
  const [removeBusy, setRemoveBusy] = useState(false);
  const [removeError, setRemoveError] = useState('');
  const remove = async () => {
    setRemoveBusy(true);
    try {
      await api('DELETE', `/api/v1/deals/${encodeURIComponent(dealId)}/attachments/${removing.blob}`);
      setRemoving(null);
      setRemoveError('');
      load();
    } catch (e) {
      setRemoveError(errorText(e));
    } finally {
      setRemoveBusy(false);
    }
  };
  const load = async () => {
    try {
      setFiles(await api('GET', `/api/v1/deals/${encodeURIComponent(dealId)}/attachments`));
      setError(null);
    } catch (e) {
      setError(e);
    }
  };
  useEffect(() => { load(); }, [dealId]);
  const onFile = async (event) => {
    const file = event.currentTarget.files && event.currentTarget.files[0];
    event.currentTarget.value = '';
    if (!file) return;
    setProgress(0);
    try {
      await uploadFile(`/api/v1/deals/${encodeURIComponent(dealId)}/attachments?name=${encodeURIComponent(file.name)}`, file, setProgress);
      toast(t('documents.attachments.done', { name: file.name }));
      load();
    } catch (e) {
      toast(errorText(e), { tone: 'error' });
    } finally {
      setProgress(null);
    }
  };
  return html`<section class="doc-attachments" data-testid="deal-attachments">
    <h3 class="card-subtitle">${t('documents.attachments.title')}</h3>
    ${error ? html`<${LoadError} error=${error} onRetry=${load} />`
      : files === null ? html`<${Loading} />`
      : files.length === 0 ? html`<p class="muted" data-testid="deal-attachments-empty">${t('documents.attachments.empty')}</p>`
      : html`<${Files} dealId=${dealId} files=${files} testid="deal-attachment-files" onRemove=${mayEdit ? setRemoving : null} />`}
    ${removing && html`<${ConfirmDialog} title=${t('documents.attachments.removeTitle')}
      body=${t('documents.attachments.removeBody', { name: removing.name })} confirmLabel=${t('common.delete')}
      busy=${removeBusy} error=${removeError} onConfirm=${remove}
      onClose=${() => { setRemoving(null); setRemoveError(''); }} />`}
    ${progress !== null && html`<div class="doc-progress" role="status">
      <progress max="100" value=${progress}></progress> <span>${progress}%</span></div>`}
    ${mayEdit && html`<div class="doc-actions"><label class="btn btn-sm" data-testid="deal-attachment-upload-label">
      ${t('documents.attachments.upload')}
      <input type="file" class="visually-hidden" accept="image/*,application/pdf"
        onChange=${onFile} disabled=${progress !== null} data-testid="deal-attachment-upload" />
    </label></div>`}
  </section>`;
}

/** The deal page's documents card. */
export function DocumentsCard({ dealId }) {
  const [state, setState] = useState({ status: 'loading' });
  const [moving, setMoving] = useState(null);
  const [removing, setRemoving] = useState(null);
  const [removeBusy, setRemoveBusy] = useState(false);
  const [removeError, setRemoveError] = useState('');
  const load = async () => {
    try {
      setState({ status: 'ready', data: await api('GET', base(dealId)) });
    } catch (error) {
      setState({ status: 'error', error });
    }
  };
  useEffect(() => { load(); }, [dealId]);
  const remove = async () => {
    setRemoveBusy(true);
    try {
      await api('DELETE', `${base(dealId)}/${encodeURIComponent(removing.id)}`);
      setRemoving(null);
      setRemoveError('');
      load();
    } catch (e) {
      setRemoveError(errorText(e));
    } finally {
      setRemoveBusy(false);
    }
  };
  let body;
  if (state.status === 'loading') body = html`<${Loading} testid="documents-loading" />`;
  else if (state.status === 'error') body = html`<${LoadError} error=${state.error} onRetry=${load} testid="documents-error" />`;
  else {
    const d = state.data;
    body = html`
      ${d.items.length === 0
        ? html`<p class="muted" data-testid="documents-empty">${t('documents.empty')}</p>`
        : html`<ul class="doc-list" data-testid="doc-list">${d.items.map((item) => html`<${Item} key=${item.id}
            dealId=${dealId} item=${item} mayEdit=${d.may_edit} onChanged=${load}
            onMove=${(it, to) => setMoving({ item: it, to })} onRemove=${setRemoving} />`)}</ul>`}
      ${d.may_edit && html`<${AddItem} dealId=${dealId} onAdded=${load} />`}
      <${DealAttachments} dealId=${dealId} mayEdit=${d.may_edit} />`;
  }
  return html`<div class="card" data-testid="deal-documents">
    <h2 class="card-title">${t('documents.card')}</h2>
    ${body}
    ${moving && html`<${MoveDocDialog} dealId=${dealId} item=${moving.item} to=${moving.to}
      onClose=${() => setMoving(null)} onDone=${() => { setMoving(null); load(); }} />`}
    ${removing && html`<${ConfirmDialog} title=${t('documents.remove.title')}
      body=${t('documents.remove.body', { name: removing.name })} confirmLabel=${t('common.delete')}
      busy=${removeBusy} error=${removeError} onConfirm=${remove}
      onClose=${() => { setRemoving(null); setRemoveError(''); }} />`}
  </div>`;
}

/** The dashboard's overdue originals (lent out longer than the configured days) on the deals
 * the user sees: the documents clerk sees the firm's, an officer their deals'. Shown only when
 * there are any. */
export function OverdueDocumentsCard() {
  const [page, setPage] = useState(null);
  useEffect(() => {
    api('GET', '/api/v1/documents/custody?overdue=1&limit=5').then(setPage).catch(() => setPage(null));
  }, []);
  if (!page || !page.total) return null;
  return html`<div class="card" data-testid="overdue-documents">
    <h2 class="card-title">${t('documents.overdueCard', { count: page.total })}</h2>
    <ul class="reminder-list">${page.items.map((r) => html`<li key=${`${r.deal_id}/${r.item_id}`}>
      <a href=${`/deals/${encodeURIComponent(r.deal_id)}`}>${r.customer_name}</a>
      <span class="badge badge-danger">${r.name}</span>
      <span class="muted">${t('documents.overdueLine', { holder: r.holder || '—', days: r.days_out })}</span>
    </li>`)}</ul>
    ${page.total > page.items.length && html`<a href="/documents">${t('documents.overdueAll')}</a>`}
  </div>`;
}
