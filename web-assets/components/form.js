// Form controls beyond the text input of field.js: a labelled <select>,
// groups of checkboxes and radio buttons (fieldset + legend), each with its
// error underneath, announced and linked like Field's.
import { useEffect, useRef } from '../vendor/preact/hooks.module.js';
import { html } from '../html.js';

function describedBy(id, error, hint) {
  return [error ? `${id}-error` : null, hint && !error ? `${id}-hint` : null].filter(Boolean).join(' ') || undefined;
}

function Messages({ id, error, hint, testid }) {
  return html`
    ${error && html`<div class="field-error" id=${`${id}-error`} role="alert" data-testid=${testid ? `${testid}-error` : undefined}>${error}</div>`}
    ${hint && !error && html`<div class="field-hint" id=${`${id}-hint`}>${hint}</div>`}`;
}

/** options: [{ value, label, disabled? }] */
export function SelectField({
  id, label, value, onChange, options, error, hint, testid, disabled = false, inputRef, required = false,
}) {
  return html`<div class=${`field${error ? ' has-error' : ''}`}>
    <label class="field-label" for=${id}>${label}</label>
    <select class="input select" id=${id} name=${id} value=${value} disabled=${disabled}
      onChange=${(event) => onChange(event.currentTarget.value)}
      aria-required=${required ? 'true' : undefined}
      aria-invalid=${error ? 'true' : 'false'} aria-describedby=${describedBy(id, error, hint)}
      ref=${inputRef} data-testid=${testid}>
      ${options.map((o) => html`<option key=${o.value} value=${o.value} disabled=${o.disabled}>${o.label}</option>`)}
    </select>
    <${Messages} id=${id} error=${error} hint=${hint} testid=${testid} />
  </div>`;
}

/** A single checkbox with its label (and an optional secondary line). */
export function Checkbox({ id, label, note, checked, onChange, disabled = false, testid, indeterminate = false }) {
  const ref = useRef(null);
  useEffect(() => {
    if (ref.current) ref.current.indeterminate = indeterminate;
  }, [indeterminate]);
  return html`<label class=${`check${disabled ? ' is-disabled' : ''}`} for=${id}>
    <input type="checkbox" id=${id} checked=${checked} disabled=${disabled} ref=${ref}
      onChange=${(event) => onChange(event.currentTarget.checked)} data-testid=${testid} />
    <span class="check-text">
      <span class="check-label">${label}</span>
      ${note && html`<span class="check-note">${note}</span>`}
    </span>
  </label>`;
}

/**
 * Several checkboxes for a set of values. options: [{ value, label, note?, disabled? }];
 * value: array of selected values; onChange(next array, in options order).
 */
export function CheckboxGroup({
  id, legend, options, value, onChange, error, hint, testid, columns = 1, required = false,
}) {
  const selected = new Set(value);
  const toggle = (v, on) => {
    const next = new Set(selected);
    if (on) next.add(v);
    else next.delete(v);
    onChange(options.map((o) => o.value).filter((x) => next.has(x)));
  };
  return html`<fieldset class=${`field fieldset${error ? ' has-error' : ''}`} id=${id}
    aria-describedby=${describedBy(id, error, hint)} aria-required=${required ? 'true' : undefined}
    aria-invalid=${error ? 'true' : undefined} data-testid=${testid}>
    <legend class="field-label">${legend}</legend>
    <div class="check-grid" style=${`--columns:${columns}`}>
      ${options.map((o) => html`<${Checkbox} key=${o.value} id=${`${id}-${o.value}`} label=${o.label} note=${o.note}
        checked=${selected.has(o.value)} disabled=${o.disabled} onChange=${(on) => toggle(o.value, on)}
        testid=${testid ? `${testid}-${o.value}` : undefined} />`)}
    </div>
    <${Messages} id=${id} error=${error} hint=${hint} testid=${testid} />
  </fieldset>`;
}

/** Radio buttons. options: [{ value, label, note? }]. */
export function RadioGroup({
  id, legend, options, value, onChange, error, hint, testid, columns = 1, disabled = false,
}) {
  return html`<fieldset class=${`field fieldset${error ? ' has-error' : ''}`} id=${id}
    aria-describedby=${describedBy(id, error, hint)} data-testid=${testid}>
    <legend class="field-label">${legend}</legend>
    <div class="check-grid" style=${`--columns:${columns}`}>
      ${options.map((o) => html`<label key=${o.value} class=${`check${disabled ? ' is-disabled' : ''}`} for=${`${id}-${o.value}`}>
        <input type="radio" id=${`${id}-${o.value}`} name=${id} value=${o.value} checked=${value === o.value}
          disabled=${disabled} onChange=${() => onChange(o.value)}
          data-testid=${testid ? `${testid}-${o.value}` : undefined} />
        <span class="check-text">
          <span class="check-label">${o.label}</span>
          ${o.note && html`<span class="check-note">${o.note}</span>`}
        </span>
      </label>`)}
    </div>
    <${Messages} id=${id} error=${error} hint=${hint} testid=${testid} />
  </fieldset>`;
}
