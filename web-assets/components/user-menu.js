// Top-bar user menu (disclosure pattern): display name → panel with the
// account summary, a link to "my account" and the logout button.
import { useEffect, useRef, useState } from '../vendor/preact/hooks.module.js';
import { html } from '../html.js';
import { t } from '../i18n/index.js';
import { logout, session } from '../auth.js';
import { navigate } from '../router.js';
import { errorText } from '../errors.js';
import { Icon } from './icons.js';
import { roleLabel } from './roles.js';

export function UserMenu() {
  const user = session.value;
  const [open, setOpen] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const rootRef = useRef(null);
  const buttonRef = useRef(null);
  const logoutRef = useRef(null);
  const accountRef = useRef(null);

  useEffect(() => {
    if (!open) return undefined;
    (accountRef.current || logoutRef.current)?.focus();
    const onPointer = (event) => {
      if (rootRef.current && !rootRef.current.contains(event.target)) setOpen(false);
    };
    const onKey = (event) => {
      if (event.key === 'Escape') {
        setOpen(false);
        buttonRef.current?.focus();
      }
    };
    const onFocus = (event) => {
      if (rootRef.current && !rootRef.current.contains(event.target)) setOpen(false);
    };
    document.addEventListener('mousedown', onPointer);
    document.addEventListener('keydown', onKey);
    document.addEventListener('focusin', onFocus);
    return () => {
      document.removeEventListener('mousedown', onPointer);
      document.removeEventListener('keydown', onKey);
      document.removeEventListener('focusin', onFocus);
    };
  }, [open]);

  if (!user) return null;

  const onLogout = async () => {
    setBusy(true);
    setError(null);
    try {
      await logout();
      navigate('/login', { replace: true });
    } catch (e) {
      setError(errorText(e));
      setBusy(false);
    }
  };

  const name = user.display_name || user.username;
  const initial = Array.from(name.trim())[0] || '?';
  return html`<div class="user-menu" ref=${rootRef}>
    <button type="button" class="user-menu-button" ref=${buttonRef}
      aria-expanded=${String(open)} aria-controls="user-menu-panel"
      aria-label=${t('user.menu', { name })}
      data-testid="user-menu" onClick=${() => setOpen(!open)}>
      <span class="avatar" aria-hidden="true">${initial.toUpperCase()}</span>
      <span class="user-menu-name" data-testid="user-display-name">${name}</span>
      <${Icon} name="chevronDown" size=${16} class="chevron" />
    </button>
    ${open && html`<div class="user-menu-panel" id="user-menu-panel" data-testid="user-menu-panel">
      <div class="user-menu-summary">
        <div class="user-menu-summary-name">${name}</div>
        <div class="user-menu-summary-meta">@${user.username}</div>
        <div class="user-menu-summary-meta">${(user.roles || []).map(roleLabel).join(t('list.separator'))}</div>
      </div>
      ${error && html`<div class="user-menu-error" role="alert">${error}</div>`}
      <a href="/account" class="user-menu-item" ref=${accountRef} data-testid="account-link"
        onClick=${() => setOpen(false)}>
        <${Icon} name="user" size=${16} />
        <span>${t('nav.account')}</span>
      </a>
      <button type="button" class="user-menu-item" ref=${logoutRef} disabled=${busy}
        data-testid="logout" onClick=${onLogout}>
        <${Icon} name="logout" size=${16} />
        <span>${busy ? t('user.loggingOut') : t('user.logout')}</span>
      </button>
    </div>`}
  </div>`;
}
