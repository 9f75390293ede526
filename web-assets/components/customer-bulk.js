// The customer list's bulk action bar (POST /api/v1/customers/bulk — all or
// nothing, confirmed before a transfer or delete; automatic assignment through
// POST /api/v1/customers/assign, optionally within one department), the "save as view" dialog
// (POST /api/v1/customer-views) and the admin's recycle bin (restore, erase for a
// personal-information deletion request).
import { useEffect, useState } from '../vendor/preact/hooks.module.js';
import { html } from '../html.js';
import { t } from '../i18n/index.js';
import { api } from '../api.js';
import { can } from '../auth.js';
import { formatDateTime } from '../format.js';
import { ConfirmDialog, FormDialog } from './dialog.js';
import { Field } from './field.js';
import { EmptyState, LoadError, Loading } from './states.js';
import { toast } from './toast.js';
import { GRADES, STAGES, customerErrorText, splitTags } from './customers.js';

const ACTIONS = ['tag', 'untag', 'set_grade', 'set_stage', 'transfer', 'auto_assign', 'delete'];
const CONFIRM = ['transfer', 'auto_assign', 'delete', 'untag'];

export function BulkBar({ ids, groups, directory, onDone, onClear }) {
  const [action, setAction] = useState('tag');
  const [tags, setTags] = useState('');
  const [grade, setGrade] = useState('A');
  const [stage, setStage] = useState('contacted');
  const [to, setTo] = useState('');
  const [dept, setDept] = useState('');
  const [departments, setDepartments] = useState(null);
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  // Only colleagues the server will accept (active, in my data scope, able to work customers).
  const active = directory.filter((u) => u.may_receive);
  const actions = ACTIONS.filter((a) => a !== 'auto_assign' || can('customer.assign'));
  useEffect(() => {
    if (action === 'auto_assign' && departments === null) {
      api('GET', '/api/v1/departments').then((r) => setDepartments(r.items), () => setDepartments([]));
    }
  }, [action, departments]);
  const allTags = [...new Set(groups.flatMap((g) => g.tags))];

  const body = () => {
    const b = { ids, action };
    if (action === 'tag' || action === 'untag') b.tags = splitTags(tags);
    if (action === 'set_grade') b.grade = grade || null;
    if (action === 'set_stage') b.stage = stage;
    if (action === 'transfer') b.to_user = to;
    return b;
  };
  const run = async () => {
    setBusy(true);
    setError(null);
    try {
      if (action === 'auto_assign') {
        const b = { ids, auto: true };
        if (dept) b.department_id = dept;
        const r = await api('POST', '/api/v1/customers/assign', b);
        toast(t('cx.bulk.assigned', { count: r.assigned, total: ids.length }));
      } else {
        const r = await api('POST', '/api/v1/customers/bulk', body());
        toast(t('cx.bulk.done', { count: r.count }));
      }
      setBusy(false);
      setConfirming(false);
      onDone();
    } catch (e) {
      setBusy(false);
      setError(customerErrorText(e));
    }
  };
  const apply = () => {
    if (action === 'transfer' && !to) {
      setError(t('customer.transfer.pick'));
      return;
    }
    setError(null);
    if (CONFIRM.includes(action)) setConfirming(true);
    else run();
  };

  return html`<div class="bulk-bar" role="region" aria-label=${t('cx.bulk.title')} data-testid="bulk-bar">
    <span data-testid="bulk-count">${t('cx.bulk.selected', { count: ids.length })}</span>
    <select class="input input-sm select" value=${action} onChange=${(e) => setAction(e.currentTarget.value)} data-testid="bulk-action">
      ${actions.map((a) => html`<option key=${a} value=${a}>${t(`cx.bulk.action.${a}`)}</option>`)}
    </select>
    ${(action === 'tag' || action === 'untag') && html`<input class="input input-sm" value=${tags} list="bulk-tag-options"
      placeholder=${t('cx.bulk.tagsPlaceholder')} onInput=${(e) => setTags(e.currentTarget.value)} data-testid="bulk-tags" />
      <datalist id="bulk-tag-options">${allTags.map((x) => html`<option key=${x} value=${x} />`)}</datalist>`}
    ${action === 'set_grade' && html`<select class="input input-sm select" value=${grade} onChange=${(e) => setGrade(e.currentTarget.value)} data-testid="bulk-grade">
      ${GRADES.map((g) => html`<option key=${g} value=${g}>${g}</option>`)}<option value="">${t('customers.grade.none')}</option></select>`}
    ${action === 'set_stage' && html`<select class="input input-sm select" value=${stage} onChange=${(e) => setStage(e.currentTarget.value)} data-testid="bulk-stage">
      ${STAGES.map((s) => html`<option key=${s.value} value=${s.value}>${t(s.labelKey)}</option>`)}</select>`}
    ${action === 'transfer' && html`<select class="input input-sm select" value=${to} onChange=${(e) => { setTo(e.currentTarget.value); setError(null); }}
      data-testid="bulk-to" aria-label=${t('customer.transfer.to')}>
      <option value="">${t('cx.depart.pick')}</option>
      ${active.map((u) => html`<option key=${u.id} value=${u.id}>${u.display_name}</option>`)}</select>`}
    ${action === 'auto_assign' && html`<select class="input input-sm select" value=${dept} onChange=${(e) => setDept(e.currentTarget.value)}
      aria-label=${t('cx.bulk.department')} data-testid="bulk-department">
      <option value="">${t('cx.bulk.anyDepartment')}</option>
      ${(departments || []).map((d) => html`<option key=${d.id} value=${d.id}>${d.name}</option>`)}</select>`}
    <button type="button" class="btn btn-sm btn-primary" onClick=${apply} disabled=${busy} data-testid="bulk-apply">${t('cx.bulk.apply')}</button>
    <button type="button" class="btn btn-sm btn-text" onClick=${onClear} data-testid="bulk-clear">${t('cx.bulk.clear')}</button>
    ${error && !confirming && html`<span class="field-error" role="alert" data-testid="bulk-error">${error}</span>`}
    ${confirming && html`<${ConfirmDialog} title=${t(`cx.bulk.action.${action}`)}
      body=${t('cx.bulk.confirm', { count: ids.length, action: t(`cx.bulk.action.${action}`) })}
      confirmLabel=${t('cx.bulk.apply')} busy=${busy} error=${error} danger=${action === 'delete'}
      onConfirm=${run} onClose=${() => setConfirming(false)} testid="bulk-confirm" />`}
  </div>`;
}

export function SaveViewDialog({ filters, whose, onClose, onSaved }) {
  const [name, setName] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const submit = async () => {
    const filter = {};
    for (const [k, v] of Object.entries(filters)) if (v && v.trim()) filter[k] = k === 'flagged' ? v === 'true' : v.trim();
    if (whose) filter.whose = whose;
    setBusy(true);
    try {
      onSaved(await api('POST', '/api/v1/customer-views', { name: name.trim(), filter }));
    } catch (e) {
      setBusy(false);
      setError(customerErrorText(e));
    }
  };
  return html`<${FormDialog} title=${t('cx.views.save')} onClose=${onClose} onSubmit=${submit} busy=${busy}
    testid="view-dialog" submitLabel=${t('common.save')} error=${error}>
    <${Field} id="view-name" label=${t('cx.views.name')} value=${name} onInput=${setName} testid="view-name" maxLength=${16} />
  <//>`;
}

// The bin is paged (newest deletion first); "load more" follows next_cursor.
const binUrl = (cursor) => `/api/v1/customers/recycle-bin${cursor ? `?cursor=${encodeURIComponent(cursor)}` : ''}`;

export function RecycleBin() {
  const [state, setState] = useState({ status: 'loading' });
  const [more, setMore] = useState({ busy: false, error: null });
  const [erasing, setErasing] = useState(null);
  const [ref, setRef] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const load = async () => {
    setMore({ busy: false, error: null });
    try {
      const page = await api('GET', binUrl(null));
      setState({ status: 'ready', items: page.items, cursor: page.next_cursor, total: page.total });
    } catch (e) {
      setState({ status: 'error', error: e });
    }
  };
  const loadMore = async () => {
    setMore({ busy: true, error: null });
    try {
      const page = await api('GET', binUrl(state.cursor));
      setState((s) => ({ ...s, items: [...s.items, ...page.items], cursor: page.next_cursor, total: page.total }));
      setMore({ busy: false, error: null });
    } catch (e) {
      setMore({ busy: false, error: e });
    }
  };
  useEffect(() => {
    load();
  }, []);
  const restore = async (c) => {
    try {
      await api('POST', `/api/v1/customers/${encodeURIComponent(c.id)}/restore`, {});
      toast(t('cx.bin.restored', { name: c.name }));
      load();
    } catch (e) {
      toast(customerErrorText(e));
    }
  };
  const erase = async () => {
    setBusy(true);
    setError(null);
    try {
      const r = await api('POST', `/api/v1/customers/${encodeURIComponent(erasing.id)}/erase`, { request_ref: ref.trim() });
      setBusy(false);
      setErasing(null);
      // Signed contracts are kept (statutory retention, admins only): say how many and why.
      toast(r?.contracts_retained
        ? t('cx.bin.erasedKept', { erased: r.contracts_erased, retained: r.contracts_retained })
        : t('cx.bin.erased'), { ms: r?.contracts_retained ? 10000 : 3500 });
      load();
    } catch (e) {
      setBusy(false);
      setError(customerErrorText(e));
    }
  };
  if (state.status === 'loading') return html`<${Loading} testid="bin-loading" />`;
  if (state.status === 'error') return html`<${LoadError} error=${state.error} onRetry=${load} testid="bin-error" />`;
  if (!state.items.length) return html`<${EmptyState} icon="trash" title=${t('cx.bin.empty')} body=${t('cx.bin.note')} testid="bin-empty" />`;
  return html`<p class="muted card-note">${t('cx.bin.note')}</p>
    <div class="table-wrap"><table class="table" data-testid="bin-table">
      <thead><tr><th scope="col">${t('customers.field.name')}</th><th scope="col">${t('customers.field.phone')}</th>
        <th scope="col">${t('cx.bin.deletedAt')}</th><th scope="col">${t('cx.bin.purgeAt')}</th><th scope="col"></th></tr></thead>
      <tbody>${state.items.map((r) => html`<tr key=${r.customer.id} data-testid="bin-row">
        <td>${r.customer.name}</td><td class="mono">${r.customer.phone}</td>
        <td class="nowrap">${formatDateTime(r.deleted_at, { seconds: false })}</td>
        <td class="nowrap">${formatDateTime(r.purge_at, { seconds: false })}</td>
        <td class="nowrap">
          <button type="button" class="btn btn-sm" onClick=${() => restore(r.customer)} data-testid="bin-restore">${t('cx.bin.restore')}</button>
          <button type="button" class="btn btn-sm btn-danger-outline" onClick=${() => { setRef(''); setError(null); setErasing(r.customer); }}
            data-testid="bin-erase">${t('cx.bin.erase')}</button>
        </td></tr>`)}</tbody>
    </table></div>
    <div class="list-foot">
      <span class="muted" data-testid="bin-shown">${t('customers.shown', { shown: state.items.length, total: state.total })}</span>
      ${more.error && html`<span class="field-error" role="alert">${customerErrorText(more.error)}</span>`}
      ${state.cursor
        ? html`<button type="button" class="btn" onClick=${loadMore} disabled=${more.busy} data-testid="bin-more">
            ${more.busy ? t('common.loading') : t('customers.loadMore')}</button>`
        : html`<span class="muted" data-testid="bin-end">${t('customers.end')}</span>`}
    </div>
    ${erasing && html`<${ConfirmDialog} title=${t('cx.bin.erase')} body=${t('cx.bin.eraseBody', { name: erasing.name })}
      confirmLabel=${t('cx.bin.erase')} busy=${busy} error=${error} onConfirm=${erase} onClose=${() => setErasing(null)} testid="erase-confirm">
      <${Field} id="erase-ref" label=${t('cx.bin.requestRef')} value=${ref} onInput=${setRef} testid="erase-ref" maxLength=${64} />
    <//>`}`;
}
