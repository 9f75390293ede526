// The new-lead bell: customers given to me (by a manager, a rule, an import, a pool) appear
// within seconds without a reload, and so do transfer requests I may decide (marked done once
// someone has decided them). GET /api/v1/notices?after=<cursor> every POLL_MS while the
// tab is visible; each new notice is a toast and a row in the bell's panel; the count is what
// arrived since I last opened the panel (remembered per user in localStorage), less the
// requests decided since.
import { useEffect, useRef, useState } from '../vendor/preact/hooks.module.js';
import { html } from '../html.js';
import { t } from '../i18n/index.js';
import { api } from '../api.js';
import { session } from '../auth.js';
import { navigate } from '../router.js';
import { formatDateTime } from '../format.js';
import { Icon } from './icons.js';
import { toast } from './toast.js';
import { NOTICES_CHANGED, readSeenFrom, unreadCount } from './notice-count.js';

export const POLL_MS = 10_000;
/** More new notices than this in one poll (an import, a bulk assignment): one summary toast. */
const TOASTS_PER_POLL = 3;

function seenKey(userId) {
  return `zhudai.notices.seen.${userId}`;
}

function readSeen(userId) {
  return readSeenFrom(globalThis.localStorage, seenKey(userId));
}

function writeSeen(userId, seq) {
  try { localStorage.setItem(seenKey(userId), String(seq)); } catch { /* private mode: count resets */ }
}

/** A colleague asks for a customer I may decide on: decided on the dashboard's card. */
const TRANSFER = 'transfer_requested';

function noticeText(n) {
  if (n.kind === TRANSFER) {
    return t(n.done ? 'notices.transferDone' : 'notices.transferRequested', { name: n.customer_name, by: n.by_name || '' });
  }
  if (n.kind === 'applied') return t('notices.applied', { name: n.customer_name });
  if (n.kind === 'referred') return t('notices.referred', { name: n.customer_name });
  return n.by_name
    ? t('notices.assignedBy', { name: n.customer_name, by: n.by_name })
    : t('notices.assigned', { name: n.customer_name });
}

export function NoticeBell() {
  const user = session.value;
  const [items, setItems] = useState([]);
  const [seen, setSeen] = useState(null);
  const [latest, setLatest] = useState(0);
  const [open, setOpen] = useState(false);
  const [failed, setFailed] = useState(false);
  const cursor = useRef(null);
  const rootRef = useRef(null);
  const pendingTransfer = useRef(false);

  useEffect(() => {
    if (!user) return undefined;
    let live = true;
    let timer = null;
    let polls = 0;
    const tick = async () => {
      if (document.visibilityState === 'visible' || cursor.current === null) {
        try {
          const first = cursor.current === null;
          const r = await api('GET', `/api/v1/notices${first ? '' : `?after=${cursor.current}`}`);
          if (!live) return;
          setFailed(false);
          if (first) {
            // First look in this browser: what came before is not "new".
            const stored = readSeen(user.id);
            if (stored === null) writeSeen(user.id, r.latest);
            setSeen(stored === null ? r.latest : stored);
            setItems(r.items.slice().reverse());
          } else if (r.items.length) {
            const fresh = r.items.filter((n) => !n.done);
            if (fresh.length > TOASTS_PER_POLL) {
              toast(t('notices.many', { count: r.latest - cursor.current }), { tone: 'success', ms: 8000 });
            } else {
              for (const n of fresh) toast(noticeText(n), { tone: 'success', ms: 8000 });
            }
            setItems((old) => [...r.items.slice().reverse(), ...old].slice(0, 20));
          }
          cursor.current = r.latest;
          setLatest(r.latest);
          // An open transfer request among the notices: every third poll looks whether it
          // has been decided (by another approver, or in another tab).
          polls += 1;
          if (!first && pendingTransfer.current && polls % 3 === 0) changed();
        } catch {
          if (live) setFailed(true);
        }
      }
      if (live) timer = setTimeout(tick, POLL_MS);
    };
    // The newest notices as they are now (a transfer request decided since shows as done).
    const refresh = async () => {
      const r = await api('GET', '/api/v1/notices');
      if (live) setItems(r.items.slice().reverse());
    };
    const changed = () => { refresh().catch(() => live && setFailed(true)); };
    window.addEventListener(NOTICES_CHANGED, changed);
    tick();
    return () => {
      live = false;
      clearTimeout(timer);
      window.removeEventListener(NOTICES_CHANGED, changed);
    };
  }, [user && user.id]);
  // A transfer request still open among the notices: polls look again whether it was decided.
  pendingTransfer.current = items.some((n) => n.kind === TRANSFER && !n.done);

  useEffect(() => {
    if (!open) return undefined;
    const away = (e) => { if (rootRef.current && !rootRef.current.contains(e.target)) setOpen(false); };
    const esc = (e) => { if (e.key === 'Escape') setOpen(false); };
    document.addEventListener('mousedown', away);
    document.addEventListener('keydown', esc);
    return () => {
      document.removeEventListener('mousedown', away);
      document.removeEventListener('keydown', esc);
    };
  }, [open]);

  if (!user) return null;
  // Since the panel was last opened: the log's count (a big import is more than the 20 listed).
  const unread = unreadCount(latest, seen, items);
  const toggle = () => {
    if (!open && cursor.current !== null) {
      writeSeen(user.id, cursor.current);
      setSeen(cursor.current);
    }
    if (!open) {
      // The newest notices as they are now: a transfer request decided since shows as done.
      api('GET', '/api/v1/notices').then((r) => setItems(r.items.slice().reverse())).catch(() => setFailed(true));
    }
    setOpen(!open);
  };
  const title = failed ? t('notices.failed') : t('notices.title', { count: unread });
  return html`<div class="notice-bell" ref=${rootRef}>
    <button type="button" class="topbar-reminders" aria-haspopup="true" aria-expanded=${open ? 'true' : 'false'}
      title=${title} aria-label=${title} onClick=${toggle} data-testid="notice-bell" data-failed=${failed ? 'true' : 'false'}>
      <${Icon} name="bell" size=${18} />
      ${unread > 0 && html`<span class="topbar-reminders-count" data-testid="notice-count">${unread > 99 ? '99+' : unread}</span>`}
      ${failed && html`<span class="notice-failed" aria-hidden="true">!</span>`}
    </button>
    ${open && html`<div class="notice-panel" role="region" aria-label=${t('notices.heading')} data-testid="notice-panel">
      <h2 class="notice-panel-title">${t('notices.heading')}</h2>
      ${failed && html`<p class="field-error" role="alert">${t('notices.failed')}</p>`}
      ${items.length === 0
        ? html`<p class="muted notice-empty">${t('notices.empty')}</p>`
        : html`<ul class="notice-list">${items.map((n) => {
          // A request is decided on the dashboard's card; the others open the customer.
          const href = n.kind === TRANSFER ? '/' : `/customers/${encodeURIComponent(n.customer_id)}`;
          return html`<li key=${n.seq} class=${n.done ? 'is-done' : ''}>
            <a href=${href} data-testid="notice-item" data-kind=${n.kind} data-done=${n.done ? 'true' : 'false'}
              onClick=${(e) => { e.preventDefault(); setOpen(false); navigate(href); }}>
              <span>${noticeText(n)}</span>
              <span class="muted notice-at">${formatDateTime(n.at, { seconds: false })}</span>
            </a></li>`;
        })}</ul>`}
    </div>`}
  </div>`;
}
