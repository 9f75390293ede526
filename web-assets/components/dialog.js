// Modal dialogs on the native <dialog> element (showModal): the browser
// traps focus, makes the page behind inert and closes on Escape. Render the
// component only while it is open; it opens on mount and, on unmount, gives
// focus back to the element that had it before.
import { useEffect, useId, useRef } from '../vendor/preact/hooks.module.js';
import { html } from '../html.js';
import { t } from '../i18n/index.js';
import { FormError } from './field.js';
import { Icon } from './icons.js';

const FOCUSABLE = 'input:not([disabled]):not([readonly]):not([type=hidden]), select:not([disabled]), textarea:not([disabled]), button:not([disabled])';

/**
 * <Dialog title onClose busy testid size="md|lg" footer>…body…</Dialog>
 * Escape and the close button call onClose (ignored while busy). Initial
 * focus: the element with data-autofocus, else the first field in the body.
 */
export function Dialog({ title, onClose, busy = false, testid, size = 'md', footer, children, describedBy }) {
  const ref = useRef(null);
  const closing = useRef(false);
  const props = useRef({});
  props.current = { onClose, busy };
  const titleId = useId();

  useEffect(() => {
    const dialog = ref.current;
    const opener = document.activeElement;
    if (!dialog.open) dialog.showModal();
    const first = dialog.querySelector('[data-autofocus]') || dialog.querySelector('.dialog-body')?.querySelector(FOCUSABLE);
    if (first) first.focus();
    return () => {
      closing.current = true;
      if (dialog.open) dialog.close();
      if (opener && opener.isConnected && typeof opener.focus === 'function') opener.focus();
    };
  }, []);

  const onCancel = (event) => {
    // Escape: close through the owner so its state stays in step.
    event.preventDefault();
    if (!props.current.busy) props.current.onClose();
  };
  const onNativeClose = () => {
    // Closed by the browser itself (e.g. a second Escape): tell the owner.
    if (!closing.current) props.current.onClose();
  };

  return html`<dialog ref=${ref} class=${`dialog dialog-${size}`} aria-labelledby=${titleId}
    aria-describedby=${describedBy} data-testid=${testid} onCancel=${onCancel} onClose=${onNativeClose}>
    <div class="dialog-header">
      <h2 class="dialog-title" id=${titleId}>${title}</h2>
      <button type="button" class="dialog-close" aria-label=${t('common.close')} disabled=${busy}
        onClick=${() => onClose()} data-testid=${testid ? `${testid}-close` : undefined}>
        <${Icon} name="close" size=${18} />
      </button>
    </div>
    <div class="dialog-body">${children}</div>
    ${footer && html`<div class="dialog-footer">${footer}</div>`}
  </dialog>`;
}

/**
 * A form inside a dialog: Enter submits, the footer holds cancel + submit.
 * onSubmit receives no event (preventDefault is done here).
 */
export function FormDialog({
  title, onClose, onSubmit, busy = false, testid, size = 'md', submitLabel, busyLabel,
  danger = false, error, children,
}) {
  const formId = useId();
  const formRef = useRef(null);
  // After a submit, the first error (a field's or the form's) is brought into view and its
  // field focused: a long form's error above the fold or under the footer is otherwise unseen.
  const pending = useRef(false);
  const wasBusy = useRef(busy);
  const submit = (event) => {
    event.preventDefault();
    if (busy) return;
    pending.current = true;
    onSubmit();
  };
  useEffect(() => {
    const settled = wasBusy.current && !busy;
    wasBusy.current = busy;
    if (!pending.current || busy || !formRef.current) return;
    const bad = formRef.current.querySelector('[aria-invalid="true"], .field-error, .form-error');
    if (bad) {
      pending.current = false;
      bad.scrollIntoView({ block: 'center' });
      const field = bad.matches('input, select, textarea') ? bad : null;
      if (field) field.focus({ preventScroll: true });
    } else if (settled) {
      pending.current = false;
    }
  });
  const footer = html`
    <button type="button" class="btn" onClick=${onClose} disabled=${busy}
      data-testid=${testid ? `${testid}-cancel` : undefined}>${t('common.cancel')}</button>
    <button type="submit" form=${formId} class=${`btn ${danger ? 'btn-danger' : 'btn-primary'}`} disabled=${busy}
      data-testid=${testid ? `${testid}-submit` : undefined}>
      ${busy ? (busyLabel || t('common.saving')) : (submitLabel || t('common.save'))}
    </button>`;
  return html`<${Dialog} title=${title} onClose=${onClose} busy=${busy} testid=${testid} size=${size} footer=${footer}>
    <form id=${formId} ref=${formRef} class="form" onSubmit=${submit} novalidate>
      ${children}
      <${FormError} text=${error} testid=${testid ? `${testid}-error` : 'form-error'} />
    </form>
  <//>`;
}

/**
 * "Are you sure?" before a destructive or far-reaching action. Focus starts
 * on Cancel, so a stray Enter does nothing harmful. `error` shows why the
 * action failed (the dialog stays open).
 */
export function ConfirmDialog({
  title, body, confirmLabel, busyLabel, onConfirm, onClose, busy = false, error,
  danger = true, testid = 'confirm-dialog', children,
}) {
  const bodyId = useId();
  const footer = html`
    <button type="button" class="btn" onClick=${onClose} disabled=${busy} data-autofocus
      data-testid="confirm-cancel">${t('common.cancel')}</button>
    <button type="button" class=${`btn ${danger ? 'btn-danger' : 'btn-primary'}`} onClick=${onConfirm} disabled=${busy}
      data-testid="confirm-ok">${busy ? (busyLabel || t('common.working')) : confirmLabel}</button>`;
  return html`<${Dialog} title=${title} onClose=${onClose} busy=${busy} testid=${testid} footer=${footer} size="sm"
    describedBy=${bodyId}>
    <div class="confirm-body">
      <span class=${`confirm-icon ${danger ? 'tone-danger' : 'tone-warning'}`}><${Icon} name="alert" size=${22} /></span>
      <div id=${bodyId} class="confirm-text">
        <p>${body}</p>
        ${children}
      </div>
    </div>
    ${error && html`<div class="form-error" role="alert" data-testid="confirm-error">${error}</div>`}
  <//>`;
}
