// /account — every signed-in user: profile, change password (the server ends
// every session, so we go to the login page), and personal API tokens
// (create: the secret is shown once; revoke).
import { useEffect, useRef, useState } from '../vendor/preact/hooks.module.js';
import { html } from '../html.js';
import { t } from '../i18n/index.js';
import { api } from '../api.js';
import { forgetSession, logout, session } from '../auth.js';
import { navigate } from '../router.js';
import { errorText, placeError } from '../errors.js';
import { formatDateTime } from '../format.js';
import { Field, FormError } from '../components/field.js';
import { AuthLayout } from '../components/auth-layout.js';
import { ConfirmDialog, Dialog } from '../components/dialog.js';
import { EmptyState, LoadError, Loading } from '../components/states.js';
import { Icon } from '../components/icons.js';
import { toast } from '../components/toast.js';
import { loadRoles, roleLabel } from '../components/roles.js';
import { departmentPath } from '../components/departments.js';
import { MyCallStats } from '../components/calls.js';
import { can } from '../auth.js';

const PASSWORD_MIN = 8;
const PASSWORD_MAX = 128;
const TOKEN_NAME_MAX = 64;
const EXPIRY_MAX = 3650;

function Profile() {
  const user = session.value;
  const [departments, setDepartments] = useState(null);
  useEffect(() => {
    // Department names and role names for the summary; both readable by everyone.
    api('GET', '/api/v1/departments').then((d) => setDepartments(d.items)).catch(() => setDepartments([]));
    loadRoles().catch(() => {});
  }, []);
  let department = t('account.noDepartment');
  if (user.department_id) {
    department = departments ? (departmentPath(departments, user.department_id) || t('users.unknownDepartment')) : '…';
  }
  return html`<div class="card" data-testid="account-profile">
    <h2 class="card-title">${t('account.profile.title')}</h2>
    <dl class="desc-list">
      <dt>${t('users.field.displayName')}</dt>
      <dd data-testid="account-display-name">${user.display_name}</dd>
      <dt>${t('field.username')}</dt>
      <dd class="mono" data-testid="account-username">${user.username}</dd>
      <dt>${t('users.field.roles')}</dt>
      <dd data-testid="account-roles">
        ${(user.roles || []).length
          ? user.roles.map((r) => html`<span class="tag tag-primary" key=${r} data-role=${r}>${roleLabel(r)}</span>`)
          : t('system.user.none')}
      </dd>
      <dt>${t('users.field.department')}</dt>
      <dd data-testid="account-department">${department}</dd>
    </dl>
    <p class="card-note muted">${t('account.profile.note')}</p>
  </div>`;
}

export function ChangePassword() {
  const user = session.value;
  const [values, setValues] = useState({ current: '', next: '', confirm: '' });
  const [errors, setErrors] = useState({});
  const [formError, setFormError] = useState(null);
  const [busy, setBusy] = useState(false);
  const refs = { current: useRef(null), next: useRef(null), confirm: useRef(null) };

  const set = (name) => (value) => {
    setValues((v) => ({ ...v, [name]: value }));
    setErrors((e) => ({ ...e, [name]: null }));
  };

  const onSubmit = async (event) => {
    event.preventDefault();
    if (busy) return;
    setFormError(null);
    const found = {};
    if (!values.current) found.current = t('account.password.currentRequired');
    const length = Array.from(values.next).length;
    if (!values.next) found.next = t('account.password.newRequired');
    else if (length < PASSWORD_MIN) found.next = t('setup.passwordTooShort', { min: PASSWORD_MIN });
    else if (length > PASSWORD_MAX) found.next = t('setup.passwordTooLong', { max: PASSWORD_MAX });
    else if (values.next === values.current) found.next = t('account.password.same');
    if (!found.next && values.confirm !== values.next) found.confirm = t('setup.passwordMismatch');
    setErrors(found);
    const first = ['current', 'next', 'confirm'].find((f) => found[f]);
    if (first) {
      refs[first].current?.focus();
      return;
    }
    setBusy(true);
    try {
      await api('POST', '/api/v1/me/password', { current_password: values.current, new_password: values.next });
    } catch (error) {
      setBusy(false);
      // The server names the new password "password" in its validation errors.
      const placed = placeError(error, ['current_password', 'new_password', 'password']);
      const field = { current_password: 'current', new_password: 'next', password: 'next' }[placed.field];
      if (field) {
        setErrors({ [field]: placed.text });
        refs[field].current?.focus();
      } else {
        setFormError(placed.text);
      }
      return;
    }
    // Every session of this account has ended, this one included.
    forgetSession({ noticeKey: 'account.password.changedLogin' });
    navigate('/login', { replace: true });
  };

  return html`<form class="card" onSubmit=${onSubmit} novalidate data-testid="password-form">
    <h2 class="card-title">${t('account.password.title')}</h2>
    <p class="card-lead muted">${t('account.password.lead')}</p>
    <div class="form">
      <input type="text" name="username" value=${user.username} autocomplete="username" hidden readonly />
      <${Field} id="pw-current" type="password" label=${t('account.password.current')} value=${values.current}
        onInput=${set('current')} error=${errors.current} autocomplete="current-password" inputRef=${refs.current}
        testid="pw-current" maxLength=${1024} />
      <${Field} id="pw-new" type="password" label=${t('account.password.new')} value=${values.next}
        onInput=${set('next')} error=${errors.next} autocomplete="new-password" inputRef=${refs.next}
        hint=${t('setup.passwordHint', { min: PASSWORD_MIN, max: PASSWORD_MAX })} testid="pw-new" maxLength=${1024} />
      <${Field} id="pw-confirm" type="password" label=${t('field.confirmPassword')} value=${values.confirm}
        onInput=${set('confirm')} error=${errors.confirm} autocomplete="new-password" inputRef=${refs.confirm}
        testid="pw-confirm" maxLength=${1024} />
      <${FormError} text=${formError} testid="pw-error" />
      <div>
        <button type="submit" class="btn btn-primary" disabled=${busy} data-testid="pw-submit">
          ${busy ? t('common.saving') : t('account.password.submit')}</button>
      </div>
    </div>
  </form>`;
}

function tokenState(token, now) {
  if (token.revoked_at) return { value: 'revoked', tone: 'muted', label: t('tokens.state.revoked') };
  if (token.expires_at && Date.parse(token.expires_at) <= now) return { value: 'expired', tone: 'warning', label: t('tokens.state.expired') };
  return { value: 'active', tone: 'success', label: t('tokens.state.active') };
}

async function copyText(text, input) {
  try {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text);
      return true;
    }
  } catch {
    // fall through to the selection-based copy
  }
  if (!input) return false;
  input.focus();
  input.select();
  try {
    return document.execCommand('copy');
  } catch {
    return false;
  }
}

function SecretDialog({ created, onClose }) {
  const inputRef = useRef(null);
  const [copied, setCopied] = useState(null); // null | true | false
  const onCopy = async () => {
    setCopied(await copyText(created.token, inputRef.current));
  };
  const footer = html`<button type="button" class="btn btn-primary" onClick=${onClose} data-testid="token-secret-done">
    ${t('tokens.secret.done')}</button>`;
  return html`<${Dialog} title=${t('tokens.secret.title', { name: created.name })} onClose=${onClose}
    testid="token-secret-dialog" footer=${footer}>
    <div class="notice notice-warning" role="alert" data-testid="token-secret-warning">${t('tokens.secret.warning')}</div>
    <div class="field">
      <label class="field-label" for="token-secret">${t('tokens.secret.label')}</label>
      <div class="input-with-button">
        <input class="input mono" id="token-secret" type="text" readonly value=${created.token} ref=${inputRef}
          data-autofocus onFocus=${(e) => e.currentTarget.select()} data-testid="token-secret" />
        <button type="button" class="btn" onClick=${onCopy} data-testid="token-copy">
          <${Icon} name=${copied ? 'check' : 'copy'} size=${16} />
          <span>${copied ? t('tokens.secret.copied') : t('tokens.secret.copy')}</span>
        </button>
      </div>
      <div class="field-hint" role="status">
        ${copied === false ? t('tokens.secret.copyFailed') : t('tokens.secret.usage')}
      </div>
    </div>
  <//>`;
}

function Tokens() {
  const [state, setState] = useState({ status: 'loading' });
  const [values, setValues] = useState({ name: '', days: '' });
  const [errors, setErrors] = useState({});
  const [formError, setFormError] = useState(null);
  const [busy, setBusy] = useState(false);
  const [created, setCreated] = useState(null);
  const [revoking, setRevoking] = useState(null); // { token, busy, error }
  const nameRef = useRef(null);
  const daysRef = useRef(null);

  const load = async ({ quiet = false } = {}) => {
    if (!quiet) setState({ status: 'loading' });
    try {
      const data = await api('GET', '/api/v1/tokens');
      const items = [...data.items].sort((a, b) => b.created_at.localeCompare(a.created_at));
      setState({ status: 'ready', items });
    } catch (error) {
      setState({ status: 'error', error });
    }
  };
  useEffect(() => {
    load();
  }, []);

  const set = (name) => (value) => {
    setValues((v) => ({ ...v, [name]: value }));
    setErrors((e) => ({ ...e, [name]: null }));
  };

  const onCreate = async (event) => {
    event.preventDefault();
    if (busy) return;
    setFormError(null);
    const found = {};
    const name = values.name.trim();
    if (!name) found.name = t('tokens.nameRequired');
    else if (Array.from(name).length > TOKEN_NAME_MAX) found.name = t('tokens.nameTooLong', { max: TOKEN_NAME_MAX });
    let days = null;
    if (values.days.trim() !== '') {
      days = Number(values.days);
      if (!Number.isInteger(days) || days < 1 || days > EXPIRY_MAX) found.days = t('tokens.daysInvalid', { max: EXPIRY_MAX });
    }
    setErrors(found);
    if (found.name) return nameRef.current?.focus();
    if (found.days) return daysRef.current?.focus();
    setBusy(true);
    try {
      const body = { name };
      if (days != null) body.expires_in_days = days;
      const token = await api('POST', '/api/v1/tokens', body);
      setBusy(false);
      setValues({ name: '', days: '' });
      setCreated(token);
      load({ quiet: true });
    } catch (error) {
      setBusy(false);
      const placed = placeError(error, ['name', 'expires_in_days']);
      if (placed.field === 'name') {
        setErrors({ name: placed.text });
        nameRef.current?.focus();
      } else if (placed.field === 'expires_in_days') {
        setErrors({ days: placed.text });
        daysRef.current?.focus();
      } else {
        setFormError(placed.text);
      }
    }
    return undefined;
  };

  const revoke = async () => {
    const { token } = revoking;
    setRevoking({ token, busy: true, error: null });
    try {
      await api('DELETE', `/api/v1/tokens/${encodeURIComponent(token.id)}`);
      setRevoking(null);
      toast(t('tokens.revoked', { name: token.name }));
      load({ quiet: true });
    } catch (error) {
      setRevoking({ token, busy: false, error: errorText(error) });
    }
  };

  let list;
  if (state.status === 'loading') list = html`<${Loading} testid="tokens-loading" />`;
  else if (state.status === 'error') list = html`<${LoadError} error=${state.error} onRetry=${() => load()} testid="tokens-error" />`;
  else if (!state.items.length) {
    list = html`<${EmptyState} icon="token" title=${t('tokens.empty.title')} body=${t('tokens.empty.body')} testid="tokens-empty" />`;
  } else {
    const now = Date.now();
    list = html`<div class="table-wrap">
      <table class="table" data-testid="tokens-table">
        <thead><tr>
          <th scope="col">${t('tokens.col.name')}</th>
          <th scope="col">${t('common.createdAt')}</th>
          <th scope="col">${t('tokens.col.expires')}</th>
          <th scope="col">${t('tokens.col.lastUsed')}</th>
          <th scope="col">${t('tokens.col.state')}</th>
          <th scope="col" class="col-actions">${t('common.actions')}</th>
        </tr></thead>
        <tbody>
          ${state.items.map((tok) => {
            const st = tokenState(tok, now);
            return html`<tr key=${tok.id} data-testid="token-row" data-token-id=${tok.id} data-state=${st.value}>
              <td>${tok.name}</td>
              <td class="nowrap">${formatDateTime(tok.created_at, { seconds: false })}</td>
              <td class="nowrap">${tok.expires_at ? formatDateTime(tok.expires_at, { seconds: false }) : html`<span class="muted">${t('tokens.never')}</span>`}</td>
              <td class="nowrap">${tok.last_used_at ? formatDateTime(tok.last_used_at, { seconds: false }) : html`<span class="muted">${t('tokens.neverUsed')}</span>`}</td>
              <td>
                <span class=${`badge badge-${st.tone}`}>${st.label}</span>
                ${tok.revoked_at && html`<div class="cell-sub">${formatDateTime(tok.revoked_at, { seconds: false })}</div>`}
              </td>
              <td class="col-actions">
                ${!tok.revoked_at && html`<button type="button" class="btn btn-sm btn-text btn-text-danger" data-testid="token-revoke"
                  aria-label=${t('tokens.revokeAria', { name: tok.name })}
                  onClick=${() => setRevoking({ token: tok, busy: false, error: null })}>${t('tokens.revoke')}</button>`}
              </td>
            </tr>`;
          })}
        </tbody>
      </table>
    </div>`;
  }

  return html`<div class="card card-flush" data-testid="account-tokens">
    <div class="card-head">
      <h2 class="card-title">${t('tokens.title')}</h2>
      <p class="card-lead muted">${t('tokens.lead')}</p>
    </div>
    <form class="token-form" onSubmit=${onCreate} novalidate data-testid="token-form">
      <${Field} id="token-name" label=${t('tokens.field.name')} value=${values.name} onInput=${set('name')}
        error=${errors.name} autocomplete="off" inputRef=${nameRef} placeholder=${t('tokens.namePlaceholder')}
        testid="token-name" maxLength=${TOKEN_NAME_MAX + 16} />
      <${Field} id="token-days" type="number" label=${t('tokens.field.days')} value=${values.days} onInput=${set('days')}
        error=${errors.days} autocomplete="off" inputRef=${daysRef} required=${false} inputMode="numeric"
        min=${1} max=${EXPIRY_MAX} placeholder=${t('tokens.daysPlaceholder')} testid="token-days" />
      <div class="token-form-submit">
        <button type="submit" class="btn btn-primary" disabled=${busy} data-testid="token-create">
          <${Icon} name="plus" size=${16} /><span>${busy ? t('common.creating') : t('tokens.create')}</span></button>
      </div>
      <${FormError} text=${formError} testid="token-error" />
    </form>
    ${list}
    ${created && html`<${SecretDialog} created=${created} onClose=${() => setCreated(null)} />`}
    ${revoking && html`<${ConfirmDialog} title=${t('tokens.revokeConfirm.title', { name: revoking.token.name })}
      body=${t('tokens.revokeConfirm.body')} confirmLabel=${t('tokens.revoke')} busy=${revoking.busy}
      error=${revoking.error} onConfirm=${revoke} onClose=${() => setRevoking(null)} />`}
  </div>`;
}

export function AccountPage() {
  return html`<section class="page" data-testid="page-account">
    <header class="page-header">
      <h1 class="page-title">${t('account.title')}</h1>
      <p class="page-subtitle">${t('account.subtitle')}</p>
    </header>
    <div class="card-grid">
      <${Profile} />
      <${ChangePassword} />
      ${can('customer.read') && session.value && html`<${MyCallStats} userId=${session.value.id} />`}
    </div>
    <div class="section-gap"></div>
    <${Tokens} />
  </section>`;
}

/** The whole app while the password is one an administrator chose: the server answers
 *  nothing else (password_change_required), so the page asks for the holder's own first. */
export function FirstPasswordPage() {
  const [busy, setBusy] = useState(false);
  const leave = async () => {
    setBusy(true);
    try {
      await logout();
      navigate('/login', { replace: true });
    } catch (error) {
      setBusy(false);
      toast(errorText(error), { tone: 'error' });
    }
  };
  return html`<${AuthLayout} title=${t('firstPassword.title')} subtitle=${t('firstPassword.lead')} testid="page-first-password">
    <${ChangePassword} />
    <p class="auth-footer"><button type="button" class="btn btn-link" onClick=${leave} disabled=${busy}
      data-testid="first-password-logout">${t('firstPassword.logout')}</button></p>
  <//>`;
}
