// /admin/roles — roles (capability user.manage): the list on the left, the
// editor on the right (name, capabilities by group, data scope, field
// privileges, daily reveal quota); create a firm role, delete an unused one.
import { useEffect, useId, useRef, useState } from '../vendor/preact/hooks.module.js';
import { html } from '../html.js';
import { t } from '../i18n/index.js';
import { api } from '../api.js';
import { loadMe, session } from '../auth.js';
import { errorText, placeError } from '../errors.js';
import { Field } from '../components/field.js';
import { Checkbox, CheckboxGroup, RadioGroup, SelectField } from '../components/form.js';
import { ConfirmDialog, FormDialog } from '../components/dialog.js';
import { LoadError, Loading } from '../components/states.js';
import { Icon } from '../components/icons.js';
import { toast } from '../components/toast.js';
import { loadRoles, roleName, sortRoles } from '../components/roles.js';
import {
  DATA_SCOPES, FIELD_PRIVILEGE_LABELS, capabilityLabel, groupCapabilities, privilegeLabel,
} from '../components/capabilities.js';

const KEY_RE = /^[a-z0-9_]{2,32}$/;
const NAME_MAX = 32;
const QUOTA_MAX = 100000;
const CODE_FIELD = { role_exists: 'key' };

function initialValues(role) {
  return {
    name: role.name,
    capabilities: [...role.capabilities],
    scope: role.scope,
    field_privileges: [...role.field_privileges],
    quotaMode: role.daily_reveal_quota == null ? 'unlimited' : 'limited',
    quota: role.daily_reveal_quota == null ? '' : String(role.daily_reveal_quota),
  };
}

const sameSet = (a, b) => a.length === b.length && a.every((x) => b.includes(x));

function isDirty(role, v) {
  const quota = v.quotaMode === 'unlimited' ? null : Number(v.quota);
  return v.name.trim() !== role.name
    || !sameSet(v.capabilities, role.capabilities)
    || v.scope !== role.scope
    || !sameSet(v.field_privileges, role.field_privileges)
    || quota !== (role.daily_reveal_quota ?? null);
}

function CapabilityGroup({ group, selected, onToggle, onToggleAll, lockedCap }) {
  const on = group.caps.filter((c) => selected.has(c));
  const all = on.length === group.caps.length;
  const some = on.length > 0 && !all;
  const id = `capgroup-${group.prefix}`;
  return html`<fieldset class="cap-group" data-testid=${`cap-group-${group.prefix}`}>
    <legend class="cap-group-legend">
      <${Checkbox} id=${id} label=${group.label} checked=${all} indeterminate=${some}
        onChange=${(checked) => onToggleAll(group.caps, checked)} testid=${`cap-group-toggle-${group.prefix}`} />
    </legend>
    <div class="cap-group-items">
      ${group.caps.map((cap) => html`<${Checkbox} key=${cap} id=${`cap-${cap}`} label=${capabilityLabel(cap)} note=${cap}
        checked=${selected.has(cap)} disabled=${cap === lockedCap && selected.has(cap)}
        onChange=${(checked) => onToggle(cap, checked)} testid=${`cap-${cap}`} />`)}
    </div>
  </fieldset>`;
}

function RoleEditor({ role, catalog, holders, onSaved, onDelete, onDirtyChange }) {
  const [values, setValues] = useState(() => initialValues(role));
  const [errors, setErrors] = useState({});
  const [formError, setFormError] = useState(null);
  const [busy, setBusy] = useState(false);
  const nameRef = useRef(null);
  const quotaRef = useRef(null);
  const quotaId = useId();
  const dirty = isDirty(role, values);

  useEffect(() => {
    onDirtyChange(dirty);
  }, [dirty]);

  const set = (name) => (value) => {
    setValues((v) => ({ ...v, [name]: value }));
    setErrors((e) => ({ ...e, [name]: null }));
    setFormError(null);
  };
  // The admin role keeps user.manage (the server refuses otherwise).
  const lockedCap = role.key === 'admin' ? 'user.manage' : null;
  const selected = new Set(values.capabilities);
  const order = catalog.capabilities;
  const setCaps = (next) => set('capabilities')(order.filter((c) => next.has(c)));
  const toggle = (cap, on) => {
    const next = new Set(selected);
    if (on) next.add(cap);
    else next.delete(cap);
    setCaps(next);
  };
  const toggleAll = (caps, on) => {
    const next = new Set(selected);
    for (const c of caps) {
      if (!on && c === lockedCap) continue;
      if (on) next.add(c);
      else next.delete(c);
    }
    setCaps(next);
  };

  const onSubmit = async (event) => {
    event.preventDefault();
    if (busy) return;
    const found = {};
    const name = values.name.trim();
    if (!name) found.name = t('roles.nameRequired');
    else if (Array.from(name).length > NAME_MAX) found.name = t('roles.nameTooLong', { max: NAME_MAX });
    let quota = null;
    if (values.quotaMode === 'limited') {
      quota = Number(values.quota);
      if (values.quota.trim() === '' || !Number.isInteger(quota) || quota < 0 || quota > QUOTA_MAX) {
        found.daily_reveal_quota = t('roles.quotaInvalid', { max: QUOTA_MAX });
      }
    }
    setErrors(found);
    if (found.name) return nameRef.current?.focus();
    if (found.daily_reveal_quota) return quotaRef.current?.focus();

    const body = {
      name,
      capabilities: values.capabilities,
      scope: values.scope,
      field_privileges: values.field_privileges,
    };
    if (quota == null) body.unlimited_reveals = true;
    else body.daily_reveal_quota = quota;
    setBusy(true);
    setFormError(null);
    try {
      const saved = await api('PATCH', `/api/v1/roles/${encodeURIComponent(role.key)}`, body);
      setBusy(false);
      onSaved(saved);
    } catch (error) {
      setBusy(false);
      const placed = placeError(error, ['name', 'daily_reveal_quota']);
      if (placed.field) setErrors({ [placed.field]: placed.text });
      else setFormError(placed.text);
    }
    return undefined;
  };

  const groups = groupCapabilities(catalog.capabilities);
  const privileges = catalog.field_privileges.map((p) => {
    const known = FIELD_PRIVILEGE_LABELS.find((x) => x.priv === p);
    return { value: p, label: privilegeLabel(p), note: known ? t(known.noteKey) : p };
  });
  const scopes = DATA_SCOPES.map((s) => ({ value: s.value, label: t(s.labelKey), note: t(s.noteKey) }));

  return html`<form class="card role-editor" onSubmit=${onSubmit} novalidate data-testid="role-editor" data-role=${role.key}>
    <div class="role-editor-head">
      <div>
        <h2 class="card-title role-editor-title">
          <span data-testid="role-editor-name">${roleName(role)}</span>
          ${role.builtin && html`<span class="tag tag-muted" data-testid="role-builtin">${t('roles.builtin')}</span>`}
        </h2>
        <p class="muted">
          <code class="mono">${role.key}</code>
          <span class="dot-sep" aria-hidden="true">·</span>
          ${holders == null ? null : t('roles.holders', { count: holders })}
        </p>
      </div>
      ${!role.builtin && html`<button type="button" class="btn btn-danger-outline" data-testid="role-delete"
        onClick=${() => onDelete(role)}><${Icon} name="trash" size=${16} /><span>${t('roles.delete')}</span></button>`}
    </div>

    <div class="role-section">
      <div class="form-grid form-grid-2">
        <${Field} id="role-name" label=${t('roles.field.name')} value=${values.name} onInput=${set('name')}
          error=${errors.name} autocomplete="off" inputRef=${nameRef} testid="role-name" maxLength=${64}
          hint=${role.builtin ? t('roles.builtinNameHint') : null} />
      </div>
    </div>

    <section class="role-section" aria-labelledby="role-caps-title">
      <h3 class="section-title" id="role-caps-title">${t('roles.section.capabilities')}</h3>
      <p class="section-lead">${t('roles.section.capabilitiesLead')}</p>
      <div class="cap-grid">
        ${groups.map((g) => html`<${CapabilityGroup} key=${g.prefix} group=${g} selected=${selected}
          onToggle=${toggle} onToggleAll=${toggleAll} lockedCap=${lockedCap} />`)}
      </div>
      ${lockedCap && html`<p class="field-hint">${t('roles.adminLockedHint')}</p>`}
    </section>

    <section class="role-section">
      <${RadioGroup} id="role-scope" legend=${t('roles.section.scope')} options=${scopes} value=${values.scope}
        onChange=${set('scope')} testid="scope" columns=${2} hint=${t('roles.scopeHint')} />
    </section>

    <section class="role-section">
      <${CheckboxGroup} id="role-privileges" legend=${t('roles.section.privileges')} options=${privileges}
        value=${values.field_privileges} onChange=${set('field_privileges')} testid="priv" columns=${2} />
    </section>

    <section class="role-section">
      <fieldset class=${`field fieldset${errors.daily_reveal_quota ? ' has-error' : ''}`} data-testid="quota"
        aria-describedby=${errors.daily_reveal_quota ? `${quotaId}-error` : `${quotaId}-hint`}>
        <legend class="field-label">${t('roles.section.quota')}</legend>
        <div class="quota-row">
          <label class="check" for=${`${quotaId}-unlimited`}>
            <input type="radio" id=${`${quotaId}-unlimited`} name="quota-mode" checked=${values.quotaMode === 'unlimited'}
              onChange=${() => set('quotaMode')('unlimited')} data-testid="quota-unlimited" />
            <span class="check-label">${t('roles.quota.unlimited')}</span>
          </label>
          <label class="check" for=${`${quotaId}-limited`}>
            <input type="radio" id=${`${quotaId}-limited`} name="quota-mode" checked=${values.quotaMode === 'limited'}
              onChange=${() => { set('quotaMode')('limited'); setTimeout(() => quotaRef.current?.focus(), 0); }}
              data-testid="quota-limited" />
            <span class="check-label">${t('roles.quota.limitedPrefix')}</span>
          </label>
          <input class="input input-sm quota-input" type="number" min="0" max=${QUOTA_MAX} step="1" inputmode="numeric"
            value=${values.quota} ref=${quotaRef} disabled=${values.quotaMode !== 'limited'}
            aria-label=${t('roles.quota.valueLabel')} aria-invalid=${errors.daily_reveal_quota ? 'true' : 'false'}
            onInput=${(e) => set('quota')(e.currentTarget.value)} data-testid="quota-value" />
          <span class="muted">${t('roles.quota.limitedSuffix')}</span>
        </div>
        ${errors.daily_reveal_quota
          ? html`<div class="field-error" id=${`${quotaId}-error`} role="alert" data-testid="quota-error">${errors.daily_reveal_quota}</div>`
          : html`<div class="field-hint" id=${`${quotaId}-hint`}>${t('roles.quota.hint')}</div>`}
      </fieldset>
    </section>

    <div class="role-editor-foot">
      ${formError && html`<div class="form-error" role="alert" data-testid="role-error">${formError}</div>`}
      <div class="role-editor-actions">
        <span class="muted" aria-live="polite">${dirty ? t('roles.unsaved') : ''}</span>
        <button type="button" class="btn" disabled=${!dirty || busy} data-testid="role-revert"
          onClick=${() => { setValues(initialValues(role)); setErrors({}); setFormError(null); }}>${t('roles.revert')}</button>
        <button type="submit" class="btn btn-primary" disabled=${!dirty || busy} data-testid="role-save">
          ${busy ? t('common.saving') : t('common.save')}</button>
      </div>
    </div>
  </form>`;
}

function CreateRoleDialog({ roles, onClose, onCreated }) {
  const [values, setValues] = useState({ key: '', name: '', template: '' });
  const [errors, setErrors] = useState({});
  const [formError, setFormError] = useState(null);
  const [busy, setBusy] = useState(false);
  const refs = { key: useRef(null), name: useRef(null) };

  const set = (name) => (value) => {
    setValues((v) => ({ ...v, [name]: value }));
    setErrors((e) => ({ ...e, [name]: null }));
  };

  const onSubmit = async () => {
    setFormError(null);
    const found = {};
    const key = values.key.trim();
    const name = values.name.trim();
    if (!key) found.key = t('roles.keyRequired');
    else if (!KEY_RE.test(key)) found.key = t('roles.keyInvalid');
    if (!name) found.name = t('roles.nameRequired');
    else if (Array.from(name).length > NAME_MAX) found.name = t('roles.nameTooLong', { max: NAME_MAX });
    setErrors(found);
    if (found.key) return refs.key.current?.focus();
    if (found.name) return refs.name.current?.focus();

    const template = roles.find((r) => r.key === values.template);
    const body = {
      key,
      name,
      builtin: false,
      capabilities: template ? [...template.capabilities] : [],
      scope: template ? template.scope : 'self',
      field_privileges: template ? [...template.field_privileges] : [],
      daily_reveal_quota: template ? template.daily_reveal_quota : null,
    };
    setBusy(true);
    try {
      onCreated(await api('POST', '/api/v1/roles', body));
    } catch (error) {
      setBusy(false);
      const codeField = CODE_FIELD[error?.code];
      const placed = codeField ? { field: codeField, text: errorText(error) } : placeError(error, ['key', 'name']);
      if (placed.field) {
        setErrors({ [placed.field]: placed.text });
        refs[placed.field].current?.focus();
      } else {
        setFormError(placed.text);
      }
    }
    return undefined;
  };

  const templates = [{ value: '', label: t('roles.template.none') }, ...roles.map((r) => ({ value: r.key, label: roleName(r) }))];
  return html`<${FormDialog} title=${t('roles.create.title')} onClose=${onClose} onSubmit=${onSubmit} busy=${busy}
    testid="role-dialog" submitLabel=${t('common.create')} busyLabel=${t('common.creating')} error=${formError}>
    <${Field} id="role-new-key" label=${t('roles.field.key')} value=${values.key} onInput=${set('key')} error=${errors.key}
      hint=${t('roles.keyHint')} autocomplete="off" inputRef=${refs.key} testid="role-new-key" maxLength=${32} />
    <${Field} id="role-new-name" label=${t('roles.field.name')} value=${values.name} onInput=${set('name')} error=${errors.name}
      autocomplete="off" inputRef=${refs.name} testid="role-new-name" maxLength=${64} />
    <${SelectField} id="role-new-template" label=${t('roles.field.template')} value=${values.template}
      onChange=${set('template')} options=${templates} hint=${t('roles.templateHint')} testid="role-new-template" />
  <//>`;
}

function DeleteRoleDialog({ role, onClose, onDeleted }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const onConfirm = async () => {
    setBusy(true);
    setError(null);
    try {
      await api('DELETE', `/api/v1/roles/${encodeURIComponent(role.key)}`);
      onDeleted();
    } catch (e) {
      setBusy(false);
      setError(errorText(e));
    }
  };
  return html`<${ConfirmDialog} title=${t('roles.deleteConfirm.title', { name: roleName(role) })}
    body=${t('roles.deleteConfirm.body', { name: roleName(role) })} confirmLabel=${t('common.delete')}
    busyLabel=${t('common.deleting')} busy=${busy} error=${error} onConfirm=${onConfirm} onClose=${onClose} />`;
}

export function AdminRolesPage() {
  const [state, setState] = useState({ status: 'loading' });
  const [selectedKey, setSelectedKey] = useState(null);
  const [dialog, setDialog] = useState(null); // { type: 'create' | 'delete' | 'discard', role?, next? }
  const [dirty, setDirty] = useState(false);
  const [version, setVersion] = useState(0); // remounts the editor after a save

  const load = async ({ quiet = false, select } = {}) => {
    if (!quiet) setState({ status: 'loading' });
    try {
      const [catalog, users] = await Promise.all([loadRoles(), api('GET', '/api/v1/users').catch(() => null)]);
      const roles = sortRoles(catalog.items);
      setState({ status: 'ready', catalog, roles, users: users ? users.items : null });
      setSelectedKey((current) => {
        const want = select || current;
        return roles.some((r) => r.key === want) ? want : roles[0]?.key ?? null;
      });
      setVersion((v) => v + 1);
      setDirty(false);
    } catch (error) {
      setState({ status: 'error', error });
    }
  };
  useEffect(() => {
    load();
  }, []);

  const pick = (key) => {
    if (key === selectedKey) return;
    if (dirty) setDialog({ type: 'discard', next: key });
    else setSelectedKey(key);
  };

  const holders = (key) => (state.users ? state.users.filter((u) => u.roles.includes(key)).length : null);

  let body;
  if (state.status === 'loading') body = html`<div class="card"><${Loading} testid="roles-loading" /></div>`;
  else if (state.status === 'error') body = html`<div class="card"><${LoadError} error=${state.error} onRetry=${() => load()} testid="roles-error" /></div>`;
  else {
    const role = state.roles.find((r) => r.key === selectedKey);
    body = html`<div class="split">
      <nav class="card card-flush split-side" aria-label=${t('roles.listLabel')}>
        <ul class="role-list" data-testid="role-list">
          ${state.roles.map((r) => {
            const count = holders(r.key);
            return html`<li key=${r.key}>
              <button type="button" class=${`role-item${r.key === selectedKey ? ' is-active' : ''}`}
                aria-current=${r.key === selectedKey ? 'true' : undefined} onClick=${() => pick(r.key)}
                data-testid=${`role-item-${r.key}`}>
                <span class="role-item-main">
                  <span class="role-item-name">${roleName(r)}</span>
                  ${r.builtin && html`<span class="tag tag-muted">${t('roles.builtin')}</span>`}
                </span>
                <span class="role-item-meta">
                  <code>${r.key}</code>
                  ${count != null && html`<span>${t('roles.holdersShort', { count })}</span>`}
                </span>
              </button>
            </li>`;
          })}
        </ul>
      </nav>
      <div class="split-main">
        ${role && html`<${RoleEditor} key=${`${role.key}-${version}`} role=${role} catalog=${state.catalog}
          holders=${holders(role.key)} onDirtyChange=${setDirty}
          onSaved=${(r) => {
            toast(t('roles.saved', { name: roleName(r) }));
            load({ quiet: true, select: r.key });
            // A role I hold changed: my capabilities may have too.
            if (session.value?.roles?.includes(r.key)) loadMe().catch(() => {});
          }}
          onDelete=${(r) => setDialog({ type: 'delete', role: r })} />`}
      </div>
    </div>`;
  }

  const ready = state.status === 'ready';
  return html`<section class="page page-wide" data-testid="page-admin-roles">
    <header class="page-header page-header-row">
      <div>
        <h1 class="page-title">${t('roles.title')}</h1>
        <p class="page-subtitle">${t('roles.subtitle')}</p>
      </div>
      <button type="button" class="btn btn-primary" disabled=${!ready} data-testid="role-create"
        onClick=${() => setDialog({ type: 'create' })}>
        <${Icon} name="plus" size=${16} /><span>${t('roles.create.button')}</span>
      </button>
    </header>
    ${body}

    ${ready && dialog?.type === 'create' && html`<${CreateRoleDialog} roles=${state.roles} onClose=${() => setDialog(null)}
      onCreated=${(r) => { setDialog(null); toast(t('roles.created', { name: r.name })); load({ quiet: true, select: r.key }); }} />`}
    ${ready && dialog?.type === 'delete' && html`<${DeleteRoleDialog} role=${dialog.role} onClose=${() => setDialog(null)}
      onDeleted=${() => { const name = roleName(dialog.role); setDialog(null); toast(t('roles.deleted', { name })); load({ quiet: true }); }} />`}
    ${dialog?.type === 'discard' && html`<${ConfirmDialog} title=${t('roles.discard.title')} body=${t('roles.discard.body')}
      confirmLabel=${t('roles.discard.ok')} danger=${false}
      onConfirm=${() => { setSelectedKey(dialog.next); setDirty(false); setDialog(null); }} onClose=${() => setDialog(null)} />`}
  </section>`;
}
