// /admin/users — staff accounts (capability user.manage): list, create,
// edit (name, roles, department, status) and reset a password.
import { useEffect, useRef, useState } from '../vendor/preact/hooks.module.js';
import { html } from '../html.js';
import { t } from '../i18n/index.js';
import { api } from '../api.js';
import { loadMe, session } from '../auth.js';
import { errorText, placeError } from '../errors.js';
import { formatDateTime } from '../format.js';
import { Field } from '../components/field.js';
import { CheckboxGroup, RadioGroup, SelectField } from '../components/form.js';
import { ConfirmDialog, FormDialog } from '../components/dialog.js';
import { EmptyState, LoadError, Loading } from '../components/states.js';
import { Icon } from '../components/icons.js';
import { toast } from '../components/toast.js';
import { loadRoles, roleLabel, roleName, sortRoles } from '../components/roles.js';
import { departmentOptions, departmentPath } from '../components/departments.js';
import { loadDirectory } from '../components/customer-settings.js';

const PASSWORD_MIN = 8;
const PASSWORD_MAX = 128;
const USERNAME_RE = /^[A-Za-z0-9._-]{2,32}$/;
const STATUSES = [
  { value: 'active', labelKey: 'users.status.active', noteKey: 'users.status.active.note', tone: 'success' },
  { value: 'disabled', labelKey: 'users.status.disabled', noteKey: 'users.status.disabled.note', tone: 'warning' },
  { value: 'departed', labelKey: 'users.status.departed', noteKey: 'users.status.departed.note', tone: 'muted' },
];
// Conflicts that belong to a field of the form.
const CODE_FIELD = { username_taken: 'username' };

export function statusLabel(status) {
  const s = STATUSES.find((x) => x.value === status);
  return s ? t(s.labelKey) : status;
}

export function StatusBadge({ status }) {
  const s = STATUSES.find((x) => x.value === status);
  const tone = s ? s.tone : 'muted';
  return html`<span class=${`badge badge-${tone}`} data-status=${status}>${statusLabel(status)}</span>`;
}

function passwordProblem(password) {
  const length = Array.from(password).length;
  if (!password) return t('users.passwordRequired');
  if (length < PASSWORD_MIN) return t('setup.passwordTooShort', { min: PASSWORD_MIN });
  if (length > PASSWORD_MAX) return t('setup.passwordTooLong', { max: PASSWORD_MAX });
  return null;
}

/** Places an API error on a field of the form or on the form itself. */
function placeFormError(error, fields) {
  const codeField = CODE_FIELD[error?.code];
  if (codeField && fields.includes(codeField)) return { field: codeField, text: errorText(error) };
  return placeError(error, fields);
}

/** Focuses the first field (in form order) that has an error. */
function focusFirstError(errors, order, refs) {
  const first = order.find((f) => errors[f]);
  if (first && refs[first]?.current) refs[first].current.focus();
  else if (first) document.getElementById(`user-${first}`)?.querySelector('input')?.focus();
}

// Brokers are created on their own page (with a channel) and staff never hold the broker
// role: it is offered only on a broker's own account.
function roleOptions(catalog, current = []) {
  return sortRoles(catalog.items)
    .filter((r) => r.key !== 'broker' || current.includes('broker'))
    .map((r) => ({ value: r.key, label: roleName(r) }));
}

function CreateUserDialog({ catalog, departments, onClose, onCreated }) {
  const [values, setValues] = useState({ username: '', display_name: '', password: '', roles: [], department_id: '', must_change: true });
  const [errors, setErrors] = useState({});
  const [formError, setFormError] = useState(null);
  const [busy, setBusy] = useState(false);
  const refs = { username: useRef(null), display_name: useRef(null), password: useRef(null), department_id: useRef(null) };
  const order = ['username', 'display_name', 'password', 'roles', 'department_id'];

  const set = (name) => (value) => {
    setValues((v) => ({ ...v, [name]: value }));
    setErrors((e) => ({ ...e, [name]: null }));
  };

  const focusFirst = (found) => focusFirstError(found, order, refs);

  const onSubmit = async () => {
    setFormError(null);
    const found = {};
    const username = values.username.trim();
    if (!username) found.username = t('users.usernameRequired');
    else if (!USERNAME_RE.test(username)) found.username = t('users.usernameInvalid');
    if (!values.display_name.trim()) found.display_name = t('users.displayNameRequired');
    const pw = passwordProblem(values.password);
    if (pw) found.password = pw;
    if (!values.roles.length) found.roles = t('users.rolesRequired');
    setErrors(found);
    if (Object.keys(found).length) return focusFirst(found);

    setBusy(true);
    try {
      const user = await api('POST', '/api/v1/users', {
        username,
        display_name: values.display_name.trim(),
        password: values.password,
        roles: values.roles,
        department_id: values.department_id || null,
        must_change_password: values.must_change,
      });
      onCreated(user);
    } catch (error) {
      setBusy(false);
      const placed = placeFormError(error, order);
      if (placed.field) {
        setErrors({ [placed.field]: placed.text });
        focusFirst({ [placed.field]: true });
      } else {
        setFormError(placed.text);
      }
    }
  };

  return html`<${FormDialog} title=${t('users.create.title')} onClose=${onClose} onSubmit=${onSubmit} busy=${busy}
    testid="user-dialog" submitLabel=${t('users.create.submit')} busyLabel=${t('common.creating')} error=${formError} size="lg">
    <div class="form-grid">
      <${Field} id="user-username" label=${t('field.username')} value=${values.username} onInput=${set('username')}
        error=${errors.username} hint=${t('users.usernameHint')} autocomplete="off" inputRef=${refs.username}
        testid="user-form-username" maxLength=${32} />
      <${Field} id="user-display_name" label=${t('users.field.displayName')} value=${values.display_name}
        onInput=${set('display_name')} error=${errors.display_name} autocomplete="off" inputRef=${refs.display_name}
        hint=${t('users.displayNameHint')} testid="user-form-display-name" maxLength=${64} />
      <${Field} id="user-password" type="password" label=${t('users.field.initialPassword')} value=${values.password}
        onInput=${set('password')} error=${errors.password} autocomplete="new-password" inputRef=${refs.password}
        hint=${t('users.passwordHint', { min: PASSWORD_MIN, max: PASSWORD_MAX })} testid="user-form-password" maxLength=${1024} />
      <${MustChange} checked=${values.must_change} onChange=${(v) => setValues((x) => ({ ...x, must_change: v }))} testid="user-form-must-change" />
      <${SelectField} id="user-department_id" label=${t('users.field.department')} value=${values.department_id}
        onChange=${set('department_id')} error=${errors.department_id} inputRef=${refs.department_id}
        options=${departmentOptions(departments, { none: t('users.noDepartment') })}
        hint=${departments.length ? null : t('users.noDepartmentsYet')} testid="user-form-department" />
    </div>
    <${CheckboxGroup} id="user-roles" legend=${t('users.field.roles')} options=${roleOptions(catalog)}
      value=${values.roles} onChange=${set('roles')} error=${errors.roles} testid="user-form-roles" columns=${3} required />
  <//>`;
}

function EditUserDialog({ user, catalog, departments, onClose, onSaved }) {
  const [values, setValues] = useState({
    display_name: user.display_name,
    roles: [...user.roles],
    department_id: user.department_id || '',
    status: user.status,
    extension: user.extension || '',
  });
  const [errors, setErrors] = useState({});
  const [formError, setFormError] = useState(null);
  const [busy, setBusy] = useState(false);
  const [confirming, setConfirming] = useState(false);
  const refs = { display_name: useRef(null), department_id: useRef(null), extension: useRef(null) };
  const order = ['display_name', 'roles', 'department_id', 'extension', 'status'];
  const isSelf = session.value?.id === user.id;

  const set = (name) => (value) => {
    setValues((v) => ({ ...v, [name]: value }));
    setErrors((e) => ({ ...e, [name]: null }));
  };

  const patch = () => {
    const body = {};
    const name = values.display_name.trim();
    if (name !== user.display_name) body.display_name = name;
    if (values.roles.join(',') !== user.roles.join(',')) body.roles = values.roles;
    if (values.department_id !== (user.department_id || '')) body.department_id = values.department_id;
    if (values.status !== user.status) body.status = values.status;
    if (values.extension.trim() !== (user.extension || '')) body.extension = values.extension.trim();
    return body;
  };

  const save = async () => {
    const body = patch();
    if (!Object.keys(body).length) {
      onClose();
      return;
    }
    setBusy(true);
    setFormError(null);
    try {
      const updated = await api('PATCH', `/api/v1/users/${encodeURIComponent(user.id)}`, body);
      setConfirming(false);
      onSaved(updated);
    } catch (error) {
      setBusy(false);
      setConfirming(false);
      const placed = placeFormError(error, order);
      if (placed.field) {
        setErrors({ [placed.field]: placed.text });
        focusFirstError({ [placed.field]: true }, order, refs);
      } else {
        setFormError(placed.text);
      }
    }
  };

  const onSubmit = () => {
    setFormError(null);
    const found = {};
    if (!values.display_name.trim()) found.display_name = t('users.displayNameRequired');
    if (!values.roles.length) found.roles = t('users.rolesRequired');
    setErrors(found);
    if (Object.keys(found).length) return focusFirstError(found, order, refs);
    // Leaving "active" ends the user's sessions: ask first.
    if (user.status === 'active' && values.status !== 'active') {
      setConfirming(true);
      return undefined;
    }
    return save();
  };

  const name = user.display_name || user.username;
  // Departure is the handover dialog's (customers go to a successor), never a status edit;
  // a departed account keeps its status.
  const statusOptions = STATUSES.filter((s) => s.value !== 'departed')
    .map((s) => ({ value: s.value, label: t(s.labelKey), note: t(s.noteKey) }));
  const departed = user.status === 'departed';
  return html`
    <${FormDialog} title=${t('users.edit.title', { name })} onClose=${onClose} onSubmit=${onSubmit} busy=${busy && !confirming}
      testid="user-dialog" error=${formError} size="lg">
      <div class="form-grid">
        <${Field} id="user-username-readonly" label=${t('field.username')} value=${user.username} onInput=${() => {}}
          readOnly required=${false} hint=${t('users.usernameFixed')} testid="user-form-username-readonly" />
        <${Field} id="user-display_name" label=${t('users.field.displayName')} value=${values.display_name}
          onInput=${set('display_name')} error=${errors.display_name} autocomplete="off" inputRef=${refs.display_name}
          testid="user-form-display-name" maxLength=${64} />
        <${SelectField} id="user-department_id" label=${t('users.field.department')} value=${values.department_id}
          onChange=${set('department_id')} error=${errors.department_id} inputRef=${refs.department_id}
          options=${departmentOptions(departments, { none: t('users.noDepartment') })} testid="user-form-department" />
        <${Field} id="user-extension" label=${t('user.extension')} value=${values.extension} required=${false}
          onInput=${set('extension')} error=${errors.extension} autocomplete="off" inputRef=${refs.extension}
          hint=${t('user.extensionHint')} testid="user-form-extension" maxLength=${16} inputMode="numeric" />
      </div>
      <${CheckboxGroup} id="user-roles" legend=${t('users.field.roles')} options=${roleOptions(catalog, user.roles)}
        value=${values.roles} onChange=${set('roles')} error=${errors.roles} testid="user-form-roles" columns=${3} required />
      ${!departed && html`<${RadioGroup} id="user-status" legend=${t('users.field.status')} options=${statusOptions}
        value=${values.status} onChange=${set('status')} error=${errors.status} testid="user-form-status" columns=${3}
        hint=${isSelf ? t('users.statusSelfHint') : null} />`}
    <//>
    ${confirming && html`<${ConfirmDialog}
      title=${values.status === 'departed' ? t('users.confirmDepart.title', { name }) : t('users.confirmDisable.title', { name })}
      body=${values.status === 'departed' ? t('users.confirmDepart.body', { name }) : t('users.confirmDisable.body', { name })}
      confirmLabel=${values.status === 'departed' ? t('users.confirmDepart.ok') : t('users.confirmDisable.ok')}
      busy=${busy} onConfirm=${save} onClose=${() => setConfirming(false)} />`}`;
}

function ResetPasswordDialog({ user, onClose, onDone }) {
  const [values, setValues] = useState({ password: '', confirm: '', must_change: true });
  const [errors, setErrors] = useState({});
  const [formError, setFormError] = useState(null);
  const [busy, setBusy] = useState(false);
  const refs = { password: useRef(null), confirm: useRef(null) };

  const set = (name) => (value) => {
    setValues((v) => ({ ...v, [name]: value }));
    setErrors((e) => ({ ...e, [name]: null }));
  };

  const onSubmit = async () => {
    setFormError(null);
    const found = {};
    const pw = passwordProblem(values.password);
    if (pw) found.password = pw;
    else if (values.confirm !== values.password) found.confirm = t('setup.passwordMismatch');
    setErrors(found);
    if (found.password) return refs.password.current?.focus();
    if (found.confirm) return refs.confirm.current?.focus();
    setBusy(true);
    try {
      await api('POST', `/api/v1/users/${encodeURIComponent(user.id)}/reset-password`, {
        password: values.password, must_change_password: values.must_change,
      });
      onDone();
    } catch (error) {
      setBusy(false);
      const placed = placeError(error, ['password']);
      if (placed.field) {
        setErrors({ password: placed.text });
        refs.password.current?.focus();
      } else {
        setFormError(placed.text);
      }
    }
    return undefined;
  };

  const name = user.display_name || user.username;
  return html`<${FormDialog} title=${t('users.reset.title', { name })} onClose=${onClose} onSubmit=${onSubmit} busy=${busy}
    testid="reset-dialog" submitLabel=${t('users.reset.submit')} error=${formError}>
    <p class="dialog-lead">${t('users.reset.lead', { name })}</p>
    <${Field} id="reset-password" type="password" label=${t('users.field.newPassword')} value=${values.password}
      onInput=${set('password')} error=${errors.password} autocomplete="new-password" inputRef=${refs.password}
      hint=${t('users.passwordHint', { min: PASSWORD_MIN, max: PASSWORD_MAX })} testid="reset-password" maxLength=${1024} />
    <${Field} id="reset-confirm" type="password" label=${t('field.confirmPassword')} value=${values.confirm}
      onInput=${set('confirm')} error=${errors.confirm} autocomplete="new-password" inputRef=${refs.confirm}
      testid="reset-confirm" maxLength=${1024} />
    <${MustChange} checked=${values.must_change} onChange=${(v) => setValues((x) => ({ ...x, must_change: v }))} testid="reset-must-change" />
  <//>`;
}

/** "Must change at first sign-in": ticked by default wherever an administrator types someone's password. */
function MustChange({ checked, onChange, testid }) {
  return html`<label class="check"><input type="checkbox" checked=${checked}
      onChange=${(e) => onChange(e.currentTarget.checked)} data-testid=${testid} />
    <span class="check-text"><span>${t('users.mustChange')}</span><span class="muted">${t('users.mustChangeHint')}</span></span></label>`;
}

/** The capabilities a successor needs to work the customers handed over (the server's rule). */
const SUCCESSOR_NEEDS = ['customer.read', 'customer.edit'];

/** Whether `u`'s roles (in the catalog) grant what a successor needs. */
function canTakeCustomers(u, catalog) {
  const caps = new Set((catalog?.items || [])
    .filter((r) => u.roles.includes(r.key))
    .flatMap((r) => r.capabilities || []));
  return SUCCESSOR_NEEDS.every((c) => caps.has(c));
}

/** Departure handover: the customers go to a colleague who can work them, or into a public
 * pool; nothing is chosen beforehand (the handover cannot be undone). POST
 * /api/v1/users/{id}/depart. */
function DepartDialog({ user, users, catalog, onClose, onDone }) {
  // Colleagues the server accepts: able to work customers, and within my reach (the
  // directory's may_receive: active, in my data scope, able to work customers).
  const [reachable, setReachable] = useState(null);
  useEffect(() => {
    loadDirectory(true).then((dir) => setReachable(new Set(dir.filter((d) => d.may_receive).map((d) => d.id))));
  }, []);
  const options = users.filter((u) => u.status === 'active' && u.id !== user.id && canTakeCustomers(u, catalog)
    && (!reachable || reachable.has(u.id)));
  const [kind, setKind] = useState('user');
  const [to, setTo] = useState('');
  const [pools, setPools] = useState(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  useEffect(() => {
    api('GET', '/api/v1/pools').then((r) => setPools(Array.isArray(r) ? r : []), (e) => { setPools([]); setError(errorText(e)); });
  }, []);
  const choose = (k) => { setKind(k); setTo(''); setError(null); };
  const submit = async () => {
    if (!to) {
      setError(t(kind === 'user' ? 'cx.depart.pickUser' : 'cx.depart.pickPool'));
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const body = kind === 'user' ? { to_user: to } : { to_pool: to };
      const r = await api('POST', `/api/v1/users/${encodeURIComponent(user.id)}/depart`, body);
      const target = kind === 'user' ? options.find((u) => u.id === to)?.display_name : pools.find((p) => p.id === to)?.name;
      onDone(r, kind, target || '');
    } catch (e) {
      setBusy(false);
      setError(errorText(e));
    }
  };
  const pick = { value: '', label: t('cx.depart.pick') };
  return html`<${ConfirmDialog} title=${t('cx.depart.title', { name: user.display_name })}
    body=${t('cx.depart.body', { name: user.display_name })} confirmLabel=${t('cx.depart.confirm')}
    busy=${busy} error=${error} onConfirm=${submit} onClose=${onClose} testid="depart-dialog">
    <${RadioGroup} id="depart-kind" legend=${t('cx.depart.kind')} value=${kind} onChange=${choose} testid="depart-kind"
      options=${[
        { value: 'user', label: t('cx.depart.toUser'), note: options.length ? null : t('cx.depart.nobody') },
        { value: 'pool', label: t('cx.depart.toPool') },
      ]} />
    ${kind === 'user' && options.length > 0 && html`<${SelectField} id="depart-to" label=${t('cx.depart.successor')} value=${to}
      onChange=${(v) => { setTo(v); setError(null); }} testid="depart-to" hint=${t('cx.depart.successorHint')}
      options=${[pick, ...options.map((u) => ({ value: u.id, label: `${u.display_name} (${u.username})` }))]} />`}
    ${kind === 'pool' && pools && html`<${SelectField} id="depart-pool" label=${t('cx.depart.pool')} value=${to}
      onChange=${(v) => { setTo(v); setError(null); }} testid="depart-pool"
      options=${[pick, ...pools.map((p) => ({ value: p.id, label: p.name }))]} />`}
  <//>`;
}

export function AdminUsersPage() {
  const [state, setState] = useState({ status: 'loading' });
  const [dialog, setDialog] = useState(null); // { type: 'create' | 'edit' | 'reset', user? }
  const [query, setQuery] = useState('');
  const [statusFilter, setStatusFilter] = useState('');

  const load = async ({ quiet = false } = {}) => {
    if (!quiet) setState({ status: 'loading' });
    try {
      const [users, departments, catalog] = await Promise.all([
        api('GET', '/api/v1/users'),
        api('GET', '/api/v1/departments'),
        loadRoles(),
      ]);
      setState({ status: 'ready', users: users.items, departments: departments.items, catalog });
    } catch (error) {
      setState({ status: 'error', error });
    }
  };
  useEffect(() => {
    load();
  }, []);

  const close = () => setDialog(null);
  const ready = state.status === 'ready';

  let body;
  if (state.status === 'loading') body = html`<${Loading} testid="users-loading" />`;
  else if (state.status === 'error') body = html`<${LoadError} error=${state.error} onRetry=${() => load()} testid="users-error" />`;
  else {
    const q = query.trim().toLowerCase();
    const rows = state.users.filter((u) => (!statusFilter || u.status === statusFilter)
      && (!q || u.username.toLowerCase().includes(q) || u.display_name.toLowerCase().includes(q)));
    body = rows.length
      ? html`<div class="table-wrap">
        <table class="table" data-testid="users-table">
          <thead><tr>
            <th scope="col">${t('field.username')}</th>
            <th scope="col">${t('users.field.displayName')}</th>
            <th scope="col">${t('users.field.department')}</th>
            <th scope="col">${t('users.field.roles')}</th>
            <th scope="col">${t('users.field.status')}</th>
            <th scope="col">${t('common.createdAt')}</th>
            <th scope="col" class="col-actions">${t('common.actions')}</th>
          </tr></thead>
          <tbody>
            ${rows.map((u) => html`<tr key=${u.id} data-testid=${`user-row-${u.username}`}>
              <td class="mono">${u.username}</td>
              <td>${u.display_name}${session.value?.id === u.id && html` <span class="tag tag-muted">${t('users.you')}</span>`}</td>
              <td data-testid="user-department-cell">${u.department_id
                ? (departmentPath(state.departments, u.department_id) || t('users.unknownDepartment'))
                : html`<span class="muted">${t('users.noDepartmentShort')}</span>`}</td>
              <td data-testid="user-roles-cell">${u.roles.map((r) => html`<span class="tag tag-primary" key=${r} data-role=${r}>${roleLabel(r)}</span>`)}</td>
              <td><${StatusBadge} status=${u.status} /></td>
              <td class="nowrap">${formatDateTime(u.created_at, { seconds: false })}</td>
              <td class="col-actions">
                ${u.may_manage && html`<div class="row-actions">
                  <button type="button" class="btn btn-sm btn-text" data-testid="user-edit"
                    aria-label=${t('users.editAria', { name: u.display_name })}
                    onClick=${() => setDialog({ type: 'edit', user: u })}><${Icon} name="edit" size=${15} />${t('common.edit')}</button>
                  <button type="button" class="btn btn-sm btn-text" data-testid="user-reset"
                    aria-label=${t('users.resetAria', { name: u.display_name })}
                    onClick=${() => setDialog({ type: 'reset', user: u })}><${Icon} name="key" size=${15} />${t('users.resetPassword')}</button>
                  ${u.status !== 'departed' && session.value?.id !== u.id && html`<button type="button" class="btn btn-sm btn-text"
                    data-testid="user-depart" onClick=${() => setDialog({ type: 'depart', user: u })}>
                    <${Icon} name="move" size=${15} />${t('cx.depart.button')}</button>`}
                </div>`}
              </td>
            </tr>`)}
          </tbody>
        </table>
      </div>`
      : html`<${EmptyState} icon="search" title=${t('users.noMatch.title')} body=${t('users.noMatch.body')} testid="users-empty" />`;
  }

  return html`<section class="page page-wide" data-testid="page-admin-users">
    <header class="page-header page-header-row">
      <div>
        <h1 class="page-title">${t('users.title')}</h1>
        <p class="page-subtitle">${t('users.subtitle')}</p>
      </div>
      <button type="button" class="btn btn-primary" disabled=${!ready} data-testid="user-create"
        onClick=${() => setDialog({ type: 'create' })}>
        <${Icon} name="plus" size=${16} /><span>${t('users.create.button')}</span>
      </button>
    </header>
    <div class="card card-flush">
      <div class="toolbar">
        <div class="search">
          <${Icon} name="search" size=${16} />
          <input class="input input-sm" type="search" value=${query} placeholder=${t('users.searchPlaceholder')}
            aria-label=${t('users.searchLabel')} onInput=${(e) => setQuery(e.currentTarget.value)} data-testid="users-search" />
        </div>
        <select class="input input-sm select" value=${statusFilter} aria-label=${t('users.statusFilter')}
          onChange=${(e) => setStatusFilter(e.currentTarget.value)} data-testid="users-status-filter">
          <option value="">${t('users.allStatuses')}</option>
          ${STATUSES.map((s) => html`<option key=${s.value} value=${s.value}>${t(s.labelKey)}</option>`)}
        </select>
        <div class="toolbar-spacer"></div>
        ${ready && html`<span class="muted" data-testid="users-count">${t('users.count', { count: state.users.length })}</span>`}
      </div>
      ${body}
    </div>

    ${dialog?.type === 'create' && html`<${CreateUserDialog} catalog=${state.catalog} departments=${state.departments}
      onClose=${close} onCreated=${(u) => { close(); toast(t('users.created', { name: u.display_name })); load({ quiet: true }); }} />`}
    ${dialog?.type === 'edit' && html`<${EditUserDialog} user=${dialog.user} catalog=${state.catalog} departments=${state.departments}
      onClose=${close} onSaved=${(u) => {
        close();
        toast(t('users.saved', { name: u.display_name }));
        load({ quiet: true });
        // My own name, roles or status changed: refresh what the shell shows and allows.
        if (u.id === session.value?.id) loadMe().catch(() => {});
      }} />`}
    ${dialog?.type === 'depart' && html`<${DepartDialog} user=${dialog.user} users=${state.users} catalog=${state.catalog} onClose=${close}
      onDone=${(r, kind, name) => {
        close();
        toast(t(kind === 'pool' ? 'cx.depart.donePool' : 'cx.depart.done', { count: r.customers_moved, name }));
        load({ quiet: true });
      }} />`}
    ${dialog?.type === 'reset' && html`<${ResetPasswordDialog} user=${dialog.user}
      onClose=${close} onDone=${() => { const u = dialog.user; close(); toast(t('users.resetDone', { name: u.display_name })); }} />`}
  </section>`;
}
