// Loading, failed-to-load and empty blocks shared by the list pages.
import { useEffect, useRef, useState } from '../vendor/preact/hooks.module.js';
import { html } from '../html.js';
import { t } from '../i18n/index.js';
import { errorText } from '../errors.js';
import { Icon } from './icons.js';

export function Loading({ testid = 'loading', label }) {
  return html`<div class="block-state" role="status" aria-live="polite" data-testid=${testid}>
    <span class="spinner spinner-sm" aria-hidden="true"></span>
    <span>${label || t('common.loading')}</span>
  </div>`;
}

export function LoadError({ error, onRetry, testid = 'load-error' }) {
  return html`<div class="block-state block-state-error" role="alert" data-testid=${testid}>
    <${Icon} name="alert" size=${20} />
    <span>${t('common.loadFailed')}${t('list.colon')}${errorText(error)}</span>
    ${onRetry && html`<button type="button" class="btn btn-sm" onClick=${onRetry}>${t('common.retry')}</button>`}
  </div>`;
}

export function EmptyState({ icon = 'inbox', title, body, testid = 'empty', children }) {
  return html`<div class="empty-state" data-testid=${testid}>
    <div class="empty-state-icon"><${Icon} name=${icon} size=${36} /></div>
    <h2 class="empty-state-title">${title}</h2>
    ${body && html`<p class="empty-state-body">${body}</p>`}
    ${children && html`<div class="empty-state-actions">${children}</div>`}
  </div>`;
}

/** Loads `fetch()` whenever `key` changes (a tab, a filter) and answers
 *  `{ status: 'loading' | 'ready' | 'error', data, error }` for the current key only: until
 *  the answer for the key on screen arrives it is 'loading', never the previous key's data
 *  under the new tab; an answer for a key already left behind is dropped. `reload` asks again. */
export function useKeyedLoad(key, fetch) {
  const [state, setState] = useState({ key: null, status: 'loading' });
  const latest = useRef(0);
  const load = () => {
    const ticket = ++latest.current;
    setState({ key, status: 'loading' });
    fetch()
      .then((data) => ticket === latest.current && setState({ key, status: 'ready', data }))
      .catch((error) => ticket === latest.current && setState({ key, status: 'error', error }));
  };
  useEffect(load, [key]);
  return [state.key === key ? state : { key, status: 'loading' }, load];
}
