// Entry point: decides which page to show from the route and the session.
//   /login, /setup      → public pages (no /me call, so no 401 in the console)
//   everything else     → needs a session: GET /api/v1/me, else → /login?next=…
import { render } from './vendor/preact/preact.module.js';
import { useEffect } from './vendor/preact/hooks.module.js';
import { signal } from './vendor/signals/signals.module.js';
import { html } from './html.js';
import { t } from './i18n/index.js';
import { route, navigate } from './router.js';
import { canRoute, loadMe, loginHref, session } from './auth.js';
import { matchRoute } from './routes.js';
import { errorText } from './errors.js';
import { Shell } from './components/shell.js';
import { LoginPage } from './pages/login.js';
import { SetupPage } from './pages/setup.js';
import { ForbiddenPage, NotFoundPage } from './pages/not-found.js';
import { BrokerPortalPage } from './pages/broker.js';
import { FirstPasswordPage } from './pages/account.js';
import { watchTables } from './components/table-cards.js';

const PUBLIC_PAGES = {
  '/login': { page: LoginPage, title: () => t('login.title') },
  '/setup': { page: SetupPage, title: () => t('setup.title') },
};

// Set when GET /api/v1/me failed for another reason than 401.
const bootError = signal(null);

function retryBoot() {
  bootError.value = null;
  loadMe().catch((error) => {
    bootError.value = error;
  });
}

function Splash() {
  return html`<div class="splash" data-testid="splash" aria-busy="true">
    <div class="spinner" aria-hidden="true"></div>
    <p>${t('common.loading')}</p>
  </div>`;
}

function BootError({ error }) {
  return html`<div class="splash" data-testid="boot-error">
    <div class="card result">
      <h1 class="result-title">${t('boot.errorTitle')}</h1>
      <p class="result-body" role="alert">${errorText(error)}</p>
      <button type="button" class="btn btn-primary" onClick=${retryBoot}>${t('common.retry')}</button>
    </div>
  </div>`;
}

function useTitle(title) {
  const full = title ? `${title} · ${t('app.name')}` : t('app.name');
  useEffect(() => {
    document.title = full;
  }, [full]);
}

function App() {
  const location = route.value;
  const user = session.value;
  const publicPage = PUBLIC_PAGES[location.path];
  const matched = publicPage ? null : matchRoute(location.path);

  useEffect(() => {
    if (publicPage) return;
    if (user === undefined && !bootError.value) retryBoot();
    else if (user === null) navigate(loginHref(location), { replace: true });
  }, [publicPage, user]);

  let title = null;
  let content;
  if (publicPage) {
    title = publicPage.title();
    content = html`<${publicPage.page} />`;
  } else if (!user) {
    content = bootError.value ? html`<${BootError} error=${bootError.value} />` : html`<${Splash} />`;
  } else if (user.must_change_password) {
    // A password an administrator chose: the holder (a broker too) sets their own before
    // anything else; the server answers nothing else meanwhile.
    title = t('firstPassword.title');
    content = html`<${FirstPasswordPage} />`;
  } else if (Array.isArray(user.roles) && user.roles.includes('broker')) {
    // A broker has their portal and nothing else, whatever the address.
    title = t('broker.title');
    content = html`<${BrokerPortalPage} />`;
  } else if (!matched) {
    title = t('notFound.title');
    content = html`<${Shell}><${NotFoundPage} /><//>`;
  } else if (!canRoute(matched)) {
    title = t('forbidden.title');
    content = html`<${Shell}><${ForbiddenPage} /><//>`;
  } else {
    title = t(matched.key);
    content = html`<${Shell}><${matched.page} key=${matched.id} /><//>`;
  }
  useTitle(title);
  return content;
}

const root = document.getElementById('app');
watchTables(root);
render(html`<${App} />`, root);
