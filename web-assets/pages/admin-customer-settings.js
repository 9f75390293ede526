// /admin/customer-settings — the firm's custom customer fields and tag groups
// (capability settings.manage, the one the API checks): list, create, edit,
// reorder (the `order` of each definition) and delete, with the API's field
// errors next to the inputs. Two tabs of one page.
import { useEffect, useRef, useState } from '../vendor/preact/hooks.module.js';
import { html } from '../html.js';
import { locale, t } from '../i18n/index.js';
import { api } from '../api.js';
import { errorText, placeError } from '../errors.js';
import { Field } from '../components/field.js';
import { Checkbox, SelectField } from '../components/form.js';
import { ConfirmDialog, FormDialog } from '../components/dialog.js';
import { EmptyState, LoadError, Loading } from '../components/states.js';
import { Icon } from '../components/icons.js';
import { toast } from '../components/toast.js';
import { loadCustomerSettings } from '../components/customer-settings.js';

const KINDS = ['text', 'number', 'money', 'date', 'select', 'multi_select'];
const CHOICE = new Set(['select', 'multi_select']);
// Conflicts that belong to a field of the form.
const CODE_FIELD = { custom_field_exists: 'key' };

/** "a, b；c\nd" → ["a", "b", "c", "d"] (the separators people type). */
export function splitList(text) {
  return String(text || '').split(/[\n,，;；、|]/).map((s) => s.trim()).filter(Boolean);
}

// In English the server's Chinese reason is replaced by a sentence about the field.
const EN_VALIDATION = {
  key: 'customSettings.error.key', label: 'customSettings.error.label', options: 'customSettings.error.options',
  name: 'customSettings.error.name', tags: 'customSettings.error.tags', color: 'customSettings.error.color',
};

function settingsErrorText(error) {
  if (error?.code === 'validation' && locale.value !== 'zh-CN' && EN_VALIDATION[error.field]) {
    return t(EN_VALIDATION[error.field]);
  }
  return errorText(error);
}

/** An API error → { field, text }: `field` when the form shows the field the API named. */
function place(error, fields) {
  const codeField = CODE_FIELD[error?.code];
  if (codeField && fields.includes(codeField)) return { field: codeField, text: errorText(error) };
  const placed = placeError(error, fields);
  return { ...placed, text: settingsErrorText(error) };
}

function kindLabel(kind) {
  return t(`customSettings.kind.${kind}`);
}

function FieldDialog({ def, nextOrder, onClose, onSaved }) {
  const editing = Boolean(def);
  const [f, setF] = useState({
    key: def?.key || '', label: def?.label || '', kind: def?.kind || 'text',
    options: (def?.options || []).join('\n'), required: Boolean(def?.required),
    show_in_list: Boolean(def?.show_in_list), active: def ? def.active !== false : true,
  });
  const [errors, setErrors] = useState({});
  const [formError, setFormError] = useState(null);
  const [busy, setBusy] = useState(false);
  const refs = { key: useRef(null), label: useRef(null) };
  const set = (k) => (v) => { setF({ ...f, [k]: v }); setErrors({}); };
  const onSubmit = async () => {
    setFormError(null);
    const local = {};
    if (!f.key.trim()) local.key = t('customSettings.keyRequired');
    if (!f.label.trim()) local.label = t('customSettings.labelRequired');
    if (CHOICE.has(f.kind) && splitList(f.options).length === 0) local.options = t('customSettings.optionsRequired');
    if (Object.keys(local).length) {
      setErrors(local);
      (local.key ? refs.key : refs.label).current?.focus();
      return;
    }
    const body = {
      key: f.key.trim(), label: f.label.trim(), kind: f.kind,
      options: CHOICE.has(f.kind) ? splitList(f.options) : [],
      required: f.required, show_in_list: f.show_in_list, active: f.active,
      order: editing ? def.order : nextOrder,
    };
    setBusy(true);
    try {
      if (editing) await api('PUT', `/api/v1/custom-fields/${encodeURIComponent(def.key)}`, body);
      else await api('POST', '/api/v1/custom-fields', body);
      toast(t('customSettings.saved'));
      onSaved();
    } catch (error) {
      setBusy(false);
      const placed = place(error, ['key', 'label', 'kind', 'options']);
      if (placed.field) setErrors({ [placed.field]: placed.text });
      else setFormError(placed.text);
    }
  };
  return html`<${FormDialog} title=${editing ? t('customSettings.field.edit', { label: def.label }) : t('customSettings.field.create')}
    onClose=${onClose} onSubmit=${onSubmit} busy=${busy} error=${formError} testid="field-dialog">
    <div class="form-grid form-grid-2">
      <${Field} id="cf-label" label=${t('customSettings.field.label')} value=${f.label} onInput=${set('label')}
        error=${errors.label} inputRef=${refs.label} testid="cf-label" maxLength=${32} />
      <${Field} id="cf-key" label=${t('customSettings.field.key')} value=${f.key} onInput=${set('key')} disabled=${editing}
        error=${errors.key} inputRef=${refs.key} testid="cf-key" maxLength=${32} autocomplete="off"
        hint=${t('customSettings.field.keyHint')} />
    </div>
    <${SelectField} id="cf-kind" label=${t('customSettings.field.kind')} value=${f.kind} onChange=${set('kind')}
      error=${errors.kind} testid="cf-kind" options=${KINDS.map((k) => ({ value: k, label: kindLabel(k) }))} />
    ${CHOICE.has(f.kind) && html`<div class=${`field${errors.options ? ' has-error' : ''}`}>
      <label class="field-label" for="cf-options">${t('customSettings.field.options')}</label>
      <textarea class="input textarea" id="cf-options" rows="4" value=${f.options}
        onInput=${(e) => set('options')(e.currentTarget.value)} aria-invalid=${errors.options ? 'true' : 'false'}
        aria-describedby=${errors.options ? 'cf-options-error' : 'cf-options-hint'} data-testid="cf-options"></textarea>
      ${errors.options
        ? html`<div class="field-error" id="cf-options-error" role="alert" data-testid="cf-options-error">${errors.options}</div>`
        : html`<div class="field-hint" id="cf-options-hint">${t('customSettings.field.optionsHint')}</div>`}
    </div>`}
    <${Checkbox} id="cf-required" label=${t('customSettings.field.required')} checked=${f.required}
      onChange=${set('required')} testid="cf-required" />
    <${Checkbox} id="cf-show" label=${t('customSettings.field.showInList')} note=${t('customSettings.field.showInListNote')}
      checked=${f.show_in_list} onChange=${set('show_in_list')} testid="cf-show-in-list" />
    ${editing && html`<${Checkbox} id="cf-active" label=${t('customSettings.field.active')}
      note=${t('customSettings.field.activeNote')} checked=${f.active} onChange=${set('active')} testid="cf-active" />`}
  <//>`;
}

function GroupDialog({ group, nextOrder, onClose, onSaved }) {
  const editing = Boolean(group);
  const [f, setF] = useState({
    name: group?.name || '', tags: (group?.tags || []).join('\n'),
    useColor: Boolean(group?.color), color: group?.color || '#2f80ed',
  });
  const [errors, setErrors] = useState({});
  const [formError, setFormError] = useState(null);
  const [busy, setBusy] = useState(false);
  const nameRef = useRef(null);
  const set = (k) => (v) => { setF({ ...f, [k]: v }); setErrors({}); };
  const onSubmit = async () => {
    setFormError(null);
    if (!f.name.trim()) {
      setErrors({ name: t('customSettings.group.nameRequired') });
      nameRef.current?.focus();
      return;
    }
    const body = {
      name: f.name.trim(), tags: splitList(f.tags), color: f.useColor ? f.color : null,
      order: editing ? group.order : nextOrder,
    };
    setBusy(true);
    try {
      if (editing) await api('PUT', `/api/v1/tag-groups/${encodeURIComponent(group.id)}`, body);
      else await api('POST', '/api/v1/tag-groups', body);
      toast(t('customSettings.saved'));
      onSaved();
    } catch (error) {
      setBusy(false);
      const placed = place(error, ['name', 'tags', 'color']);
      if (placed.field) setErrors({ [placed.field]: placed.text });
      else setFormError(placed.text);
    }
  };
  return html`<${FormDialog} title=${editing ? t('customSettings.group.edit', { name: group.name }) : t('customSettings.group.create')}
    onClose=${onClose} onSubmit=${onSubmit} busy=${busy} error=${formError} testid="group-dialog">
    <${Field} id="tg-name" label=${t('customSettings.group.name')} value=${f.name} onInput=${set('name')}
      error=${errors.name} inputRef=${nameRef} testid="tg-name" maxLength=${16} hint=${t('customSettings.group.nameHint')} />
    <div class=${`field${errors.tags ? ' has-error' : ''}`}>
      <label class="field-label" for="tg-tags">${t('customSettings.group.tags')}</label>
      <textarea class="input textarea" id="tg-tags" rows="4" value=${f.tags}
        onInput=${(e) => set('tags')(e.currentTarget.value)} aria-invalid=${errors.tags ? 'true' : 'false'}
        aria-describedby=${errors.tags ? 'tg-tags-error' : 'tg-tags-hint'} data-testid="tg-tags"></textarea>
      ${errors.tags
        ? html`<div class="field-error" id="tg-tags-error" role="alert" data-testid="tg-tags-error">${errors.tags}</div>`
        : html`<div class="field-hint" id="tg-tags-hint">${t('customSettings.group.tagsHint')}</div>`}
    </div>
    <${Checkbox} id="tg-use-color" label=${t('customSettings.group.useColor')} checked=${f.useColor}
      onChange=${set('useColor')} testid="tg-use-color" />
    ${f.useColor && html`<div class=${`field${errors.color ? ' has-error' : ''}`}>
      <label class="field-label" for="tg-color">${t('customSettings.group.color')}</label>
      <input class="input input-color" type="color" id="tg-color" value=${f.color}
        onInput=${(e) => set('color')(e.currentTarget.value)} data-testid="tg-color" />
      ${errors.color && html`<div class="field-error" role="alert">${errors.color}</div>`}
    </div>`}
  <//>`;
}

/**
 * Moves item `index` of `items` by `delta` and saves the new positions: every
 * item whose `order` changes is written back with `save(item, order)`.
 */
async function reorder(items, index, delta, save) {
  const next = items.slice();
  const [moved] = next.splice(index, 1);
  next.splice(index + delta, 0, moved);
  for (let i = 0; i < next.length; i++) {
    const order = (i + 1) * 10;
    if (next[i].order !== order) await save(next[i], order);
  }
}

function MoveButtons({ index, count, onMove, label }) {
  return html`<span class="nowrap">
    <button type="button" class="btn btn-sm btn-text" disabled=${index === 0} onClick=${() => onMove(index, -1)}
      aria-label=${t('customSettings.moveUp', { name: label })} data-testid="move-up">↑</button>
    <button type="button" class="btn btn-sm btn-text" disabled=${index === count - 1} onClick=${() => onMove(index, 1)}
      aria-label=${t('customSettings.moveDown', { name: label })} data-testid="move-down">↓</button>
  </span>`;
}

function FieldsTab({ fields, reload }) {
  const [editing, setEditing] = useState(null);
  const [deleting, setDeleting] = useState(null);
  const [del, setDel] = useState({ busy: false, error: null });
  const nextOrder = (fields.reduce((m, d) => Math.max(m, d.order || 0), 0) || 0) + 10;
  const move = async (index, delta) => {
    try {
      await reorder(fields, index, delta, (d, order) =>
        api('PUT', `/api/v1/custom-fields/${encodeURIComponent(d.key)}`, { ...d, order }));
    } catch (error) {
      toast(errorText(error));
    }
    reload();
  };
  const remove = async () => {
    setDel({ busy: true, error: null });
    try {
      await api('DELETE', `/api/v1/custom-fields/${encodeURIComponent(deleting.key)}`);
      setDeleting(null);
      setDel({ busy: false, error: null });
      toast(t('customSettings.deleted'));
      reload();
    } catch (error) {
      setDel({ busy: false, error: errorText(error) });
    }
  };
  return html`<div data-testid="custom-fields-tab">
    <div class="toolbar toolbar-end">
      <button type="button" class="btn btn-primary" onClick=${() => setEditing({})} data-testid="custom-field-create">
        <${Icon} name="plus" size=${16} /><span>${t('customSettings.field.create')}</span></button>
    </div>
    ${fields.length === 0
      ? html`<${EmptyState} icon="contacts" title=${t('customSettings.field.empty.title')} body=${t('customSettings.field.empty.body')}
          testid="custom-fields-empty" />`
      : html`<div class="card card-flush"><div class="table-wrap"><table class="table" data-testid="custom-fields-table">
        <thead><tr><th>${t('customSettings.order')}</th><th>${t('customSettings.field.label')}</th><th>${t('customSettings.field.key')}</th>
          <th>${t('customSettings.field.kind')}</th><th>${t('customSettings.field.options')}</th><th>${t('customSettings.field.flags')}</th><th></th></tr></thead>
        <tbody>${fields.map((d, i) => html`<tr key=${d.key} data-testid="custom-field-row" data-key=${d.key}>
          <td><${MoveButtons} index=${i} count=${fields.length} onMove=${move} label=${d.label} /></td>
          <td>${d.label}${!d.active && html`<span class="tag tag-muted">${t('customSettings.field.inactive')}</span>`}</td>
          <td class="mono">${d.key}</td>
          <td>${kindLabel(d.kind)}</td>
          <td>${d.options.length ? d.options.join(t('list.separator')) : '—'}</td>
          <td>${d.required && html`<span class="tag">${t('customSettings.field.required')}</span>`}
            ${d.show_in_list && html`<span class="tag">${t('customSettings.field.inList')}</span>`}</td>
          <td class="nowrap">
            <button type="button" class="btn btn-sm" onClick=${() => setEditing(d)} data-testid="custom-field-edit">${t('common.edit')}</button>
            <button type="button" class="btn btn-sm btn-text" onClick=${() => setDeleting(d)} data-testid="custom-field-delete">${t('common.delete')}</button>
          </td></tr>`)}</tbody></table></div></div>`}
    ${editing && html`<${FieldDialog} def=${editing.key ? editing : null} nextOrder=${nextOrder}
      onClose=${() => setEditing(null)} onSaved=${() => { setEditing(null); reload(); }} />`}
    ${deleting && html`<${ConfirmDialog} title=${t('customSettings.field.deleteTitle', { label: deleting.label })}
      body=${t('customSettings.field.deleteBody', { label: deleting.label })} confirmLabel=${t('common.delete')}
      busy=${del.busy} error=${del.error} onConfirm=${remove} onClose=${() => { setDeleting(null); setDel({ busy: false, error: null }); }} />`}
  </div>`;
}

function GroupsTab({ groups, reload }) {
  const [editing, setEditing] = useState(null);
  const [deleting, setDeleting] = useState(null);
  const [del, setDel] = useState({ busy: false, error: null });
  const nextOrder = (groups.reduce((m, g) => Math.max(m, g.order || 0), 0) || 0) + 10;
  const move = async (index, delta) => {
    try {
      await reorder(groups, index, delta, (g, order) =>
        api('PUT', `/api/v1/tag-groups/${encodeURIComponent(g.id)}`, { name: g.name, tags: g.tags, color: g.color, order }));
    } catch (error) {
      toast(errorText(error));
    }
    reload();
  };
  const remove = async () => {
    setDel({ busy: true, error: null });
    try {
      await api('DELETE', `/api/v1/tag-groups/${encodeURIComponent(deleting.id)}`);
      setDeleting(null);
      setDel({ busy: false, error: null });
      toast(t('customSettings.deleted'));
      reload();
    } catch (error) {
      setDel({ busy: false, error: errorText(error) });
    }
  };
  return html`<div data-testid="tag-groups-tab">
    <div class="toolbar toolbar-end">
      <button type="button" class="btn btn-primary" onClick=${() => setEditing({})} data-testid="tag-group-create">
        <${Icon} name="plus" size=${16} /><span>${t('customSettings.group.create')}</span></button>
    </div>
    ${groups.length === 0
      ? html`<${EmptyState} icon="inbox" title=${t('customSettings.group.empty.title')} body=${t('customSettings.group.empty.body')}
          testid="tag-groups-empty" />`
      : html`<div class="card card-flush"><div class="table-wrap"><table class="table" data-testid="tag-groups-table">
        <thead><tr><th>${t('customSettings.order')}</th><th>${t('customSettings.group.name')}</th>
          <th>${t('customSettings.group.tags')}</th><th></th></tr></thead>
        <tbody>${groups.map((g, i) => html`<tr key=${g.id} data-testid="tag-group-row" data-name=${g.name}>
          <td><${MoveButtons} index=${i} count=${groups.length} onMove=${move} label=${g.name} /></td>
          <td>${g.color && html`<span class="color-dot" style=${`background:${g.color}`} aria-hidden="true"></span>`}${g.name}</td>
          <td>${g.tags.length
            ? g.tags.map((tag) => html`<span class="tag" key=${tag} style=${g.color ? `border-color:${g.color}` : undefined}>${tag}</span>`)
            : html`<span class="muted">${t('customSettings.group.noTags')}</span>`}</td>
          <td class="nowrap">
            <button type="button" class="btn btn-sm" onClick=${() => setEditing(g)} data-testid="tag-group-edit">${t('common.edit')}</button>
            <button type="button" class="btn btn-sm btn-text" onClick=${() => setDeleting(g)} data-testid="tag-group-delete">${t('common.delete')}</button>
          </td></tr>`)}</tbody></table></div></div>`}
    ${editing && html`<${GroupDialog} group=${editing.id ? editing : null} nextOrder=${nextOrder}
      onClose=${() => setEditing(null)} onSaved=${() => { setEditing(null); reload(); }} />`}
    ${deleting && html`<${ConfirmDialog} title=${t('customSettings.group.deleteTitle', { name: deleting.name })}
      body=${t('customSettings.group.deleteBody', { name: deleting.name })} confirmLabel=${t('common.delete')}
      busy=${del.busy} error=${del.error} onConfirm=${remove} onClose=${() => { setDeleting(null); setDel({ busy: false, error: null }); }} />`}
  </div>`;
}

export function AdminCustomerSettingsPage() {
  const [tab, setTab] = useState('fields');
  const [state, setState] = useState({ status: 'loading' });
  const load = async () => {
    try {
      const [fields, groups] = await Promise.all([api('GET', '/api/v1/custom-fields'), api('GET', '/api/v1/tag-groups')]);
      setState({ status: 'ready', fields, groups });
      // The customer pages read these through a cache: refresh it.
      loadCustomerSettings(true);
    } catch (error) {
      setState({ status: 'error', error });
    }
  };
  useEffect(() => {
    load();
  }, []);
  let body;
  if (state.status === 'loading') body = html`<${Loading} testid="customer-settings-loading" />`;
  else if (state.status === 'error') body = html`<${LoadError} error=${state.error} onRetry=${load} />`;
  else if (tab === 'fields') body = html`<${FieldsTab} fields=${state.fields} reload=${load} />`;
  else body = html`<${GroupsTab} groups=${state.groups} reload=${load} />`;
  const tabButton = (id, key) => html`<button type="button" role="tab" aria-selected=${tab === id ? 'true' : 'false'}
    class=${`view-tab${tab === id ? ' is-active' : ''}`} onClick=${() => setTab(id)} data-testid=${`settings-tab-${id}`}>${t(key)}</button>`;
  return html`<section class="page page-wide" data-testid="page-customer-settings">
    <header class="page-header">
      <h1 class="page-title">${t('customSettings.title')}</h1>
      <p class="page-subtitle">${t('customSettings.subtitle')}</p>
    </header>
    <div class="view-tabs" role="tablist" aria-label=${t('customSettings.title')}>
      ${tabButton('fields', 'customSettings.tab.fields')}
      ${tabButton('groups', 'customSettings.tab.groups')}
    </div>
    ${body}
  </section>`;
}
