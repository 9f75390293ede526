// A small history-API router: the current location lives in a signal,
// navigate() pushes a new entry, and same-origin <a href> clicks are
// intercepted so plain links work without a <Link> component.
import { signal } from './vendor/signals/signals.module.js';

function snapshot() {
  return { path: location.pathname, search: location.search, hash: location.hash };
}

/** The current location: { path, search, hash }. */
export const route = signal(snapshot());

/** Go to a same-origin URL ("/system", "/login?next=%2F"). */
export function navigate(to, { replace = false } = {}) {
  const url = new URL(to, location.href);
  // The app never navigates away from itself.
  if (url.origin !== location.origin) return;
  const target = url.pathname + url.search + url.hash;
  if (target !== location.pathname + location.search + location.hash) {
    history[replace ? 'replaceState' : 'pushState'](null, '', target);
    if (!replace) window.scrollTo(0, 0);
  }
  route.value = snapshot();
}

/** A query-string parameter of the current location, or null. */
export function queryParam(name) {
  return new URLSearchParams(route.value.search).get(name);
}

// hashchange too: a fragment-only navigation typed into the address bar.
for (const type of ['popstate', 'hashchange']) {
  window.addEventListener(type, () => {
    route.value = snapshot();
  });
}

document.addEventListener('click', (event) => {
  if (event.defaultPrevented || event.button !== 0) return;
  if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  const a = event.target instanceof Element ? event.target.closest('a[href]') : null;
  if (!a || (a.target && a.target !== '_self') || a.hasAttribute('download')) return;
  if (a.getAttribute('href').startsWith('#')) return;
  const url = new URL(a.href);
  if (url.origin !== location.origin) return;
  if (url.pathname.startsWith('/api/') || url.pathname.startsWith('/assets/')) return;
  event.preventDefault();
  navigate(url.pathname + url.search + url.hash);
});
