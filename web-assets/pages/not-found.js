import { html } from '../html.js';
import { t } from '../i18n/index.js';
import { route } from '../router.js';
import { Icon } from '../components/icons.js';

/** An unknown address; with `record` ('customer'), a record that does not exist or is outside
 *  the reader's data scope (the server answers both with 404, on purpose: ids cannot be probed). */
export function NotFoundPage({ record } = {}) {
  return html`<section class="page" data-testid=${record ? 'page-record-not-found' : 'page-not-found'}>
    <div class="card result">
      <div class="result-icon"><${Icon} name="compass" size=${48} /></div>
      <h1 class="result-title">${record ? t('notFound.customer.title') : t('notFound.title')}</h1>
      <p class="result-body">${record ? t('notFound.customer.body') : t('notFound.body', { path: route.value.path })}</p>
      <a class="btn btn-primary" href="/" data-testid="back-to-dashboard">${t('notFound.back')}</a>
    </div>
  </section>`;
}

export function ForbiddenPage() {
  return html`<section class="page" data-testid="page-forbidden">
    <div class="card result">
      <div class="result-icon"><${Icon} name="lock" size=${48} /></div>
      <h1 class="result-title">${t('forbidden.title')}</h1>
      <p class="result-body">${t('forbidden.body')}</p>
      <a class="btn btn-primary" href="/" data-testid="back-to-dashboard">${t('notFound.back')}</a>
    </div>
  </section>`;
}
