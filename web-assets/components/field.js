import { html } from '../html.js';

/**
 * A labelled input with its error underneath. The label is bound to the
 * input (for/id), and the error is announced and linked via aria-describedby.
 */
export function Field({
  id, label, value, onInput, error, hint, type = 'text', autocomplete,
  inputRef, testid, maxLength, disabled = false,
  required = true, placeholder, inputMode, min, max, readOnly = false,
}) {
  const hintId = hint && !error ? `${id}-hint` : undefined;
  const errorId = error ? `${id}-error` : undefined;
  const describedBy = [errorId, hintId].filter(Boolean).join(' ') || undefined;
  return html`<div class=${`field${error ? ' has-error' : ''}`}>
    <label class="field-label" for=${id}>${label}</label>
    <input class="input" id=${id} name=${id} type=${type} value=${value}
      onInput=${(event) => onInput(event.currentTarget.value)}
      autocomplete=${autocomplete} maxlength=${maxLength} disabled=${disabled}
      placeholder=${placeholder} inputmode=${inputMode} min=${min} max=${max} readonly=${readOnly}
      spellcheck=${false} autocapitalize="off"
      aria-required=${required ? 'true' : undefined}
      aria-invalid=${error ? 'true' : 'false'} aria-describedby=${describedBy}
      ref=${inputRef} data-testid=${testid} />
    ${error && html`<div class="field-error" id=${errorId} role="alert" data-testid=${testid ? `${testid}-error` : undefined}>${error}</div>`}
    ${hintId && html`<div class="field-hint" id=${hintId}>${hint}</div>`}
  </div>`;
}

/** A form-level error (no field named). */
export function FormError({ text, testid = 'form-error' }) {
  if (!text) return null;
  return html`<div class="form-error" role="alert" data-testid=${testid}>${text}</div>`;
}
