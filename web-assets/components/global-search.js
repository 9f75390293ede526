// The top-bar search: results as you type (debounced), arrow keys to move, Enter to open,
// Escape to close, "/" anywhere to focus. Matched characters are highlighted from the
// server's character ranges (never from HTML), so nothing a customer record holds can
// inject markup.
import { useEffect, useRef, useState } from '../vendor/preact/hooks.module.js';
import { html } from '../html.js';
import { t } from '../i18n/index.js';
import { api } from '../api.js';
import { can } from '../auth.js';
import { navigate } from '../router.js';
import { Icon } from './icons.js';

const DEBOUNCE_MS = 180;
const LIMIT = 8;

/** Text with the [start, end) character ranges wrapped in <mark>. */
export function Highlighted({ value, ranges }) {
  const chars = Array.from(value || '');
  if (!ranges || ranges.length === 0) return value;
  const parts = [];
  let at = 0;
  for (const [start, end] of ranges) {
    if (start > at) parts.push(chars.slice(at, start).join(''));
    parts.push(html`<mark>${chars.slice(start, end).join('')}</mark>`);
    at = end;
  }
  if (at < chars.length) parts.push(chars.slice(at).join(''));
  return parts;
}

function fieldHighlight(hit, field) {
  return (hit.highlights || []).find((h) => h.field === field);
}

function HitRow({ hit, active, onPick, id }) {
  const c = hit.customer;
  const name = fieldHighlight(hit, 'name');
  const phone = fieldHighlight(hit, 'phone');
  const extra = ['company', 'address', 'city'].map((f) => fieldHighlight(hit, f)).find(Boolean);
  return html`<li id=${id} role="option" aria-selected=${active} class=${`gs-hit${active ? ' active' : ''}`}
    data-testid="search-hit" onMouseDown=${(e) => { e.preventDefault(); onPick(c); }}>
    <span class="gs-name"><${Highlighted} value=${c.name} ranges=${name && name.ranges} /></span>
    <span class="gs-phone"><${Highlighted} value=${c.phone} ranges=${phone && phone.ranges} /></span>
    <span class="gs-meta">
      ${extra ? html`<${Highlighted} value=${extra.value} ranges=${extra.ranges} />` : [c.city, c.company].filter(Boolean).join(' · ')}
    </span>
    <span class="gs-stage">${t(`stage.${c.stage}`)}</span>
  </li>`;
}

export function GlobalSearch() {
  const allowed = can('customer.read');
  const [q, setQ] = useState('');
  const [open, setOpen] = useState(false);
  const [state, setState] = useState({ status: 'idle', items: [], total: 0 });
  const [active, setActive] = useState(0);
  const input = useRef(null);

  useEffect(() => {
    const onKey = (e) => {
      const typing = /^(INPUT|TEXTAREA|SELECT)$/.test(document.activeElement?.tagName || '');
      if (e.key === '/' && !typing && !e.ctrlKey && !e.metaKey && !e.altKey) {
        e.preventDefault();
        input.current?.focus();
      }
    };
    document.addEventListener('keydown', onKey);
    return () => document.removeEventListener('keydown', onKey);
  }, []);

  useEffect(() => {
    const text = q.trim();
    if (!allowed || text === '') {
      setState({ status: 'idle', items: [], total: 0 });
      return undefined;
    }
    let live = true;
    // Typing on cancels the search for the text before (it may still wait for its turn).
    const stop = new AbortController();
    setState((s) => ({ ...s, status: 'loading' }));
    const timer = setTimeout(() => {
      const path = `/api/v1/search?limit=${LIMIT}&facets=false&q=${encodeURIComponent(text)}`;
      api('GET', path, undefined, stop.signal)
        .then((page) => {
          if (!live) return;
          setState({ status: 'done', items: page.items, total: page.total });
          setActive(0);
        })
        .catch((err) => {
          if (live) setState({ status: 'error', items: [], total: 0, message: err.message });
        });
    }, DEBOUNCE_MS);
    return () => {
      live = false;
      clearTimeout(timer);
      stop.abort();
    };
  }, [q, allowed]);

  if (!allowed) return null;

  const pick = (c) => {
    setOpen(false);
    setQ('');
    input.current?.blur();
    navigate(`/customers/${c.id}`);
  };
  const showAll = () => {
    setOpen(false);
    input.current?.blur();
    navigate(`/customers?q=${encodeURIComponent(q.trim())}`);
  };
  const onKeyDown = (e) => {
    const n = state.items.length;
    if (e.key === 'ArrowDown') {
      e.preventDefault();
      setOpen(true);
      setActive((a) => (n === 0 ? 0 : (a + 1) % n));
    } else if (e.key === 'ArrowUp') {
      e.preventDefault();
      setActive((a) => (n === 0 ? 0 : (a - 1 + n) % n));
    } else if (e.key === 'Enter') {
      e.preventDefault();
      if (state.items[active]) pick(state.items[active].customer);
      else if (q.trim()) showAll();
    } else if (e.key === 'Escape') {
      setOpen(false);
      input.current?.blur();
    }
  };
  const text = q.trim();
  const listId = 'global-search-results';
  return html`<div class="global-search" data-testid="global-search">
    <${Icon} name="search" size=${16} />
    <input ref=${input} type="search" value=${q} placeholder=${t('search.placeholder')}
      aria-label=${t('search.label')} role="combobox" aria-expanded=${open && text !== ''}
      aria-controls=${listId} aria-autocomplete="list"
      aria-activedescendant=${open && state.items[active] ? `${listId}-${active}` : undefined}
      data-testid="global-search-input"
      onInput=${(e) => { setQ(e.currentTarget.value); setOpen(true); }}
      onFocus=${() => setOpen(true)} onBlur=${() => setOpen(false)} onKeyDown=${onKeyDown} />
    ${open && text !== '' && html`<div class="gs-panel" data-testid="global-search-panel">
      ${state.status === 'loading' && state.items.length === 0 && html`<p class="gs-note">${t('search.loading')}</p>`}
      ${state.status === 'error' && html`<p class="gs-note gs-error" role="alert">${t('search.error')}</p>`}
      ${state.status === 'done' && state.items.length === 0 && html`<div class="gs-note" data-testid="global-search-empty">
        <p>${t('search.noResults', { q: text })}</p>
        <p class="gs-hint">${t('search.hint')}</p>
      </div>`}
      ${state.items.length > 0 && html`<ul id=${listId} role="listbox" class="gs-list">
        ${state.items.map((hit, i) => html`<${HitRow} key=${hit.customer.id} id=${`${listId}-${i}`}
          hit=${hit} active=${i === active} onPick=${pick} />`)}
      </ul>`}
      ${/* No count on it: search also finds the customers waiting in the caller's pools, which the
         customer list does not show, so its total is not the list's. */ ''}
      ${state.total > state.items.length && html`<button type="button" class="gs-all" data-testid="global-search-all"
        onMouseDown=${(e) => { e.preventDefault(); showAll(); }}>${t('search.showAll')}</button>`}
    </div>`}
  </div>`;
}
