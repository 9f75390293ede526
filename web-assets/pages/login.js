// /login — username + password; shows invalid credentials and a live
// "try again in N seconds" countdown when throttled (429 + Retry-After).
import { useEffect, useRef, useState } from '../vendor/preact/hooks.module.js';
import { html } from '../html.js';
import { t } from '../i18n/index.js';
import { api } from '../api.js';
import { login, loginNotice, safeNext, session } from '../auth.js';
import { navigate, queryParam } from '../router.js';
import { placeError } from '../errors.js';
import { AuthLayout } from '../components/auth-layout.js';
import { Field, FormError } from '../components/field.js';

const FIELDS = ['username', 'password'];

export function LoginPage() {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [fieldErrors, setFieldErrors] = useState({});
  const [formError, setFormError] = useState(null); // ApiError shown above the button
  const [busy, setBusy] = useState(false);
  const [retryUntil, setRetryUntil] = useState(0);
  const [now, setNow] = useState(() => Date.now());
  const [setupNeeded, setSetupNeeded] = useState(false);
  // Shown once (e.g. "password changed, log in again"), then forgotten.
  const [notice] = useState(() => loginNotice.peek());
  const usernameRef = useRef(null);
  const passwordRef = useRef(null);

  // Already signed in in this tab (e.g. back button after login): go on.
  useEffect(() => {
    if (session.value) navigate(safeNext(queryParam('next')), { replace: true });
  }, []);

  useEffect(() => {
    loginNotice.value = null;
    usernameRef.current?.focus();
    api('GET', '/api/v1/setup')
      .then((data) => setSetupNeeded(Boolean(data?.needed)))
      .catch(() => {});
  }, []);

  // Throttle countdown.
  useEffect(() => {
    if (!retryUntil) return undefined;
    const timer = setInterval(() => {
      const at = Date.now();
      setNow(at);
      if (at >= retryUntil) {
        setRetryUntil(0);
        setFormError(null);
      }
    }, 250);
    return () => clearInterval(timer);
  }, [retryUntil]);

  const waiting = retryUntil > now;
  const secondsLeft = Math.max(1, Math.ceil((retryUntil - now) / 1000));

  const onSubmit = async (event) => {
    event.preventDefault();
    if (busy || waiting) return;
    const errors = {};
    if (!username.trim()) errors.username = t('login.usernameRequired');
    if (!password) errors.password = t('login.passwordRequired');
    setFieldErrors(errors);
    setFormError(null);
    if (errors.username) return usernameRef.current?.focus();
    if (errors.password) return passwordRef.current?.focus();

    setBusy(true);
    try {
      await login(username.trim(), password);
      navigate(safeNext(queryParam('next')), { replace: true });
    } catch (error) {
      setBusy(false);
      if (error.code === 'throttled') {
        const at = Date.now();
        setNow(at);
        if (error.retryAfter != null) setRetryUntil(at + error.retryAfter * 1000);
        setFormError(error);
        return;
      }
      const placed = placeError(error, FIELDS);
      if (placed.field) {
        setFieldErrors({ [placed.field]: placed.text });
        (placed.field === 'username' ? usernameRef : passwordRef).current?.focus();
        return;
      }
      setFormError(error);
      if (error.code === 'invalid_credentials') {
        setPassword('');
        passwordRef.current?.focus();
      }
    }
  };

  let formErrorText = null;
  if (formError) {
    if (formError.code === 'throttled') {
      formErrorText = waiting ? t('error.throttled', { seconds: secondsLeft }) : t('error.throttled_later');
    } else {
      formErrorText = placeError(formError, []).text;
    }
  }

  return html`<${AuthLayout} title=${t('login.title')} subtitle=${t('login.subtitle')} testid="page-login">
    ${notice && html`<div class="notice notice-success" role="status" data-testid="login-notice">${t(notice)}</div>`}
    ${setupNeeded && html`<div class="notice notice-info" data-testid="login-setup-needed">${t('login.setupNeeded')}</div>`}
    <form class="form" onSubmit=${onSubmit} novalidate data-testid="login-form">
      <${Field} id="username" label=${t('field.username')} value=${username}
        onInput=${(v) => { setUsername(v); setFieldErrors((e) => ({ ...e, username: null })); }}
        error=${fieldErrors.username} autocomplete="username" inputRef=${usernameRef}
        testid="login-username" maxLength=${128} />
      <${Field} id="password" type="password" label=${t('field.password')} value=${password}
        onInput=${(v) => { setPassword(v); setFieldErrors((e) => ({ ...e, password: null })); }}
        error=${fieldErrors.password} autocomplete="current-password" inputRef=${passwordRef}
        testid="login-password" maxLength=${1024} />
      <${FormError} text=${formErrorText} testid="login-error" />
      <button type="submit" class="btn btn-primary btn-block btn-lg" disabled=${busy || waiting} data-testid="login-submit">
        ${busy ? t('login.submitting') : t('login.submit')}
      </button>
    </form>
  <//>`;
}
