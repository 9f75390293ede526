// Who is signed in. `session` is undefined while unknown (before /me
// answered), null when signed out, or the user object from the API:
// { id, username, display_name, roles: [...], capabilities: [...] }.
import { signal } from './vendor/signals/signals.module.js';
import { api, onUnauthorized, setCsrfToken } from './api.js';
import { navigate, route } from './router.js';

export const session = signal(undefined);

/**
 * A message for the login page (an i18n key), e.g. after a password change
 * ended every session; the login page shows it once and clears it.
 */
export const loginNotice = signal(null);

/** True when the signed-in user has the capability (or none is required). */
export function can(capability) {
  if (!capability) return true;
  const user = session.value;
  return Boolean(user && Array.isArray(user.capabilities) && user.capabilities.includes(capability));
}

/**
 * True when the signed-in user may open a route: its capability, and for a route marked
 * `scope: 'all'` (the server refuses anyone without a firm-wide data scope, e.g. channels to
 * a manager) the data scope `all` too.
 */
export function canRoute(r) {
  if (!can(r.capability)) return false;
  return !r.scope || session.value?.data_scope === r.scope;
}

function accept(data) {
  setCsrfToken(data.csrf_token);
  session.value = data.user;
  return data.user;
}

function signedOut() {
  setCsrfToken(null);
  session.value = null;
}

/**
 * Forgets the session locally when the server has already ended it;
 * noticeKey (i18n key) is shown on the login page.
 */
export function forgetSession({ noticeKey = null } = {}) {
  loginNotice.value = noticeKey;
  signedOut();
}

let pendingMe = null;

/** GET /api/v1/me → the user, or null when not signed in (401). */
export function loadMe() {
  if (!pendingMe) {
    pendingMe = api('GET', '/api/v1/me')
      .then(accept)
      .catch((error) => {
        if (error.status === 401) {
          signedOut();
          return null;
        }
        throw error;
      })
      .finally(() => {
        pendingMe = null;
      });
  }
  return pendingMe;
}

export async function login(username, password) {
  return accept(await api('POST', '/api/v1/auth/login', { username, password }));
}

/** POST /api/v1/auth/logout; a 401 (session already gone) counts as done. */
export async function logout() {
  try {
    await api('POST', '/api/v1/auth/logout');
  } catch (error) {
    if (error.status !== 401) throw error;
  }
  signedOut();
}

/** "/login?next=…" for a location that needs a signed-in user. */
export function loginHref(location = route.value) {
  const here = location.path + location.search;
  return here === '/' ? '/login' : `/login?next=${encodeURIComponent(here)}`;
}

/** A safe post-login destination from ?next= (same-origin path only). */
export function safeNext(next) {
  if (!next || !next.startsWith('/')) return '/';
  // Let the URL parser decide (it drops tabs and newlines and folds backslashes, so string
  // checks alone can be fooled into "//evil.example"); only same-origin paths are kept.
  let url;
  try {
    url = new URL(next, location.origin);
  } catch {
    return '/';
  }
  if (url.origin !== location.origin) return '/';
  if (url.pathname === '/login' || url.pathname.startsWith('/setup')) return '/';
  return url.pathname + url.search + url.hash;
}

onUnauthorized(() => {
  const target = loginHref();
  signedOut();
  navigate(target, { replace: true });
});
