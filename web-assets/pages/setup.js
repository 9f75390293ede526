// /setup#token=… — first-run creation of the administrator. The token is
// in the URL fragment, so it never reaches the server's logs; it is only
// sent in the POST body. After creating the account we sign in with the
// same credentials and go to the dashboard.
import { useEffect, useRef, useState } from '../vendor/preact/hooks.module.js';
import { html } from '../html.js';
import { t } from '../i18n/index.js';
import { api } from '../api.js';
import { login } from '../auth.js';
import { navigate, route } from '../router.js';
import { errorText, placeError } from '../errors.js';
import { AuthLayout } from '../components/auth-layout.js';
import { Field, FormError } from '../components/field.js';
import { Icon } from '../components/icons.js';

const FIELDS = ['username', 'display_name', 'password', 'confirm'];
const PASSWORD_MIN = 8;
const PASSWORD_MAX = 128;

function tokenFromHash(hash) {
  return new URLSearchParams(hash.replace(/^#/, '')).get('token') || '';
}

function validate(values) {
  const errors = {};
  if (!values.username.trim()) errors.username = t('setup.usernameRequired');
  if (!values.display_name.trim()) errors.display_name = t('setup.displayNameRequired');
  const length = Array.from(values.password).length;
  if (!values.password) errors.password = t('setup.passwordRequired');
  else if (length < PASSWORD_MIN) errors.password = t('setup.passwordTooShort', { min: PASSWORD_MIN });
  else if (length > PASSWORD_MAX) errors.password = t('setup.passwordTooLong', { max: PASSWORD_MAX });
  if (!errors.password && values.confirm !== values.password) errors.confirm = t('setup.passwordMismatch');
  return errors;
}

function SetupForm({ token, onDone }) {
  const [values, setValues] = useState({ username: '', display_name: '', password: '', confirm: '' });
  const [errors, setErrors] = useState({});
  const [formError, setFormError] = useState(null);
  const [busy, setBusy] = useState(false);
  const refs = {
    username: useRef(null),
    display_name: useRef(null),
    password: useRef(null),
    confirm: useRef(null),
  };

  useEffect(() => {
    refs.username.current?.focus();
  }, []);

  const set = (name) => (value) => {
    setValues((v) => ({ ...v, [name]: value }));
    setErrors((e) => ({ ...e, [name]: null }));
  };

  const onSubmit = async (event) => {
    event.preventDefault();
    if (busy) return;
    setFormError(null);
    const found = validate(values);
    setErrors(found);
    const first = FIELDS.find((f) => found[f]);
    if (first) {
      refs[first].current?.focus();
      return;
    }

    setBusy(true);
    const username = values.username.trim();
    try {
      await api('POST', '/api/v1/setup', {
        token,
        username,
        display_name: values.display_name.trim(),
        password: values.password,
      });
    } catch (error) {
      setBusy(false);
      if (error.code === 'setup_done') {
        onDone('done');
        return;
      }
      const placed = placeError(error, FIELDS);
      if (placed.field) {
        setErrors({ [placed.field]: placed.text });
        refs[placed.field].current?.focus();
      } else {
        setFormError(placed.text);
      }
      return;
    }

    // Administrator created: sign in with the same credentials.
    try {
      await login(username, values.password);
      navigate('/', { replace: true });
    } catch {
      onDone('created');
    }
  };

  return html`<form class="form" onSubmit=${onSubmit} novalidate data-testid="setup-form">
    <${Field} id="username" label=${t('field.username')} value=${values.username}
      onInput=${set('username')} error=${errors.username} autocomplete="username"
      inputRef=${refs.username} testid="setup-username" maxLength=${128} />
    <${Field} id="display_name" label=${t('field.displayName')} value=${values.display_name}
      onInput=${set('display_name')} error=${errors.display_name} autocomplete="name"
      hint=${t('setup.displayNameHint')}
      inputRef=${refs.display_name} testid="setup-display-name" maxLength=${128} />
    <${Field} id="password" type="password" label=${t('field.password')} value=${values.password}
      onInput=${set('password')} error=${errors.password} autocomplete="new-password"
      hint=${t('setup.passwordHint', { min: PASSWORD_MIN, max: PASSWORD_MAX })}
      inputRef=${refs.password} testid="setup-password" maxLength=${1024} />
    <${Field} id="confirm" type="password" label=${t('field.confirmPassword')} value=${values.confirm}
      onInput=${set('confirm')} error=${errors.confirm} autocomplete="new-password"
      inputRef=${refs.confirm} testid="setup-confirm" maxLength=${1024} />
    <${FormError} text=${formError} testid="setup-error" />
    <button type="submit" class="btn btn-primary btn-block btn-lg" disabled=${busy} data-testid="setup-submit">
      ${busy ? t('setup.submitting') : t('setup.submit')}
    </button>
  </form>`;
}

function Message({ icon, tone, text, testid, children }) {
  return html`<div class=${`setup-message tone-${tone}`} data-testid=${testid}>
    <div class="setup-message-icon"><${Icon} name=${icon} size=${22} /></div>
    <div>
      <p>${text}</p>
      ${children}
    </div>
  </div>`;
}

export function SetupPage() {
  // loading | error | needed | done (an admin exists) | created (login after setup failed)
  const [state, setState] = useState({ name: 'loading' });
  // Read from the route so pasting the full link over /setup (a same-document
  // fragment navigation) picks the token up.
  const token = tokenFromHash(route.value.hash);
  const view = state.name === 'needed' ? (token ? 'form' : 'no-token') : state.name;

  const check = async () => {
    setState({ name: 'loading' });
    try {
      const data = await api('GET', '/api/v1/setup');
      setState({ name: data?.needed ? 'needed' : 'done' });
    } catch (error) {
      setState({ name: 'error', error });
    }
  };
  useEffect(() => {
    check();
  }, []);

  let body;
  switch (view) {
    case 'loading':
      body = html`<p class="muted" data-testid="setup-loading">${t('common.loading')}</p>`;
      break;
    case 'error':
      body = html`<${Message} icon="alert" tone="error" text=${errorText(state.error)} testid="setup-check-error">
        <button type="button" class="btn" onClick=${check}>${t('common.retry')}</button>
      <//>`;
      break;
    case 'done':
      body = html`<${Message} icon="check" tone="info" text=${t('setup.alreadyDone')} testid="setup-already-done">
        <a class="btn btn-primary" href="/login" data-testid="setup-go-login">${t('setup.goToLogin')}</a>
      <//>`;
      break;
    case 'created':
      body = html`<${Message} icon="check" tone="success" text=${t('setup.createdPleaseLogin')} testid="setup-created">
        <a class="btn btn-primary" href="/login" data-testid="setup-go-login">${t('setup.goToLogin')}</a>
      <//>`;
      break;
    case 'no-token':
      body = html`<${Message} icon="alert" tone="warning" text=${t('setup.noToken')} testid="setup-no-token">
        <p class="muted">${t('setup.noTokenHint')}</p>
      <//>`;
      break;
    default:
      body = html`<${SetupForm} token=${token} onDone=${(name) => setState({ name })} />`;
  }

  return html`<${AuthLayout} title=${t('setup.title')} subtitle=${view === 'form' ? t('setup.subtitle') : null} testid="page-setup">
    ${body}
  <//>`;
}
