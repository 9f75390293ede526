// The firm's customer settings as the customer pages use them: custom field
// definitions and tag groups (GET /api/v1/custom-fields, /tag-groups), the
// staff directory (GET /api/v1/users/directory) to name owners, and the form
// pieces for custom values, grouped tags and the PIPL consent record.
import { html } from '../html.js';
import { t } from '../i18n/index.js';
import { api } from '../api.js';
import { fenToYuan, parseYuanToFen } from '../money.js';
import { Field } from './field.js';
import { SelectField } from './form.js';

let settingsPromise = null;
let directoryPromise = null;

/** { fields, groups } — loaded once per page load; failures give empty lists. */
export function loadCustomerSettings(fresh = false) {
  if (!settingsPromise || fresh) {
    settingsPromise = Promise.all([
      api('GET', '/api/v1/custom-fields').catch(() => []),
      api('GET', '/api/v1/tag-groups').catch(() => []),
    ]).then(([fields, groups]) => ({ fields, groups }));
  }
  return settingsPromise;
}

/** [{ id, display_name, department_id, status }] of every colleague. */
export function loadDirectory(fresh = false) {
  if (!directoryPromise || fresh) directoryPromise = api('GET', '/api/v1/users/directory').catch(() => []);
  return directoryPromise;
}

/** A stored custom value as text for cards and list cells. */
export function customText(def, v) {
  if (v == null || v === '') return '—';
  if (def.kind === 'money') return t('money.yuan', { amount: fenToYuan(v) });
  if (Array.isArray(v)) return v.join(t('list.separator'));
  return String(v);
}

/** A stored custom value → the form's text. */
export function customToForm(def, v) {
  if (v == null) return def.kind === 'multi_select' ? [] : '';
  if (def.kind === 'money') return fenToYuan(v);
  if (def.kind === 'multi_select') return Array.isArray(v) ? v : [];
  return String(v);
}

/**
 * The form's custom values → { custom, errors } for the API. Only fields whose
 * value differs from `original` are sent when editing; an emptied one is null.
 */
export function buildCustom(defs, values, original = null) {
  const custom = {};
  const errors = {};
  for (const d of defs) {
    if (!d.active && !(original && d.key in original)) continue;
    const raw = values[d.key];
    let v;
    if (d.kind === 'multi_select') v = raw && raw.length ? raw : null;
    else if (d.kind === 'money') {
      v = parseYuanToFen(raw);
      if (v === undefined) errors[d.key] = t('cx.custom.moneyError');
    } else if (d.kind === 'number') {
      const s = String(raw || '').trim();
      v = s === '' ? null : Number(s);
      if (s !== '' && !Number.isFinite(v)) errors[d.key] = t('cx.custom.numberError');
    } else v = String(raw || '').trim() || null;
    if (d.required && d.active && (v == null) && !errors[d.key]) errors[d.key] = t('cx.custom.required', { label: d.label });
    const before = original ? original[d.key] ?? null : null;
    if (JSON.stringify(v) !== JSON.stringify(before) && !(v == null && !original)) custom[d.key] = v;
  }
  return { custom, errors };
}

/** Inputs for the active custom fields. values: { key: text | [options] }. */
export function CustomFieldInputs({ defs, values, errors = {}, set }) {
  const active = defs.filter((d) => d.active);
  if (!active.length) return null;
  return html`<h3 class="form-section-title">${t('cx.custom.section')}</h3>
    <div class="form-grid form-grid-2" data-testid="customer-form-custom">
      ${active.map((d) => {
        const id = `customer-custom-${d.key}`;
        const testid = `custom-${d.key}`;
        const err = errors[d.key];
        if (d.kind === 'select') {
          return html`<${SelectField} key=${d.key} id=${id} label=${d.label} value=${values[d.key] || ''} error=${err}
            onChange=${(v) => set(d.key, v)} testid=${testid} required=${d.required}
            options=${[{ value: '', label: t('cx.custom.none') }, ...d.options.map((o) => ({ value: o, label: o }))]} />`;
        }
        if (d.kind === 'multi_select') {
          const chosen = values[d.key] || [];
          return html`<fieldset key=${d.key} class="field" data-testid=${testid}>
            <legend class="field-label">${d.label}</legend>
            <div class="chip-row">${d.options.map((o) => html`<label class="check check-inline" key=${o}>
              <input type="checkbox" checked=${chosen.includes(o)} data-testid=${`${testid}-${o}`}
                onChange=${(e) => set(d.key, e.currentTarget.checked ? [...chosen, o] : chosen.filter((x) => x !== o))} />
              <span class="check-label">${o}</span></label>`)}</div>
            ${err && html`<div class="field-error" role="alert">${err}</div>`}
          </fieldset>`;
        }
        return html`<${Field} key=${d.key} id=${id} label=${d.kind === 'money' ? t('cx.custom.moneyLabel', { label: d.label }) : d.label}
          value=${values[d.key] || ''} onInput=${(v) => set(d.key, v)} error=${err} testid=${testid}
          required=${d.required} type=${d.kind === 'date' ? 'date' : 'text'}
          inputMode=${d.kind === 'number' || d.kind === 'money' ? 'decimal' : undefined} />`;
      })}
    </div>`;
}

/** Clickable tags of each group; clicking adds or removes the tag. */
export function TagGroupPicker({ groups, tags, onToggle }) {
  if (!groups.length) return null;
  return html`<div class="tag-groups" data-testid="tag-group-picker">
    ${groups.map((g) => html`<div class="tag-group" key=${g.id}>
      <span class="tag-group-name muted">${g.name}</span>
      ${g.tags.map((tag) => html`<button type="button" key=${tag}
        class=${`tag tag-action${tags.includes(tag) ? ' tag-primary' : ''}`}
        style=${g.color ? `border-color:${g.color}` : undefined} aria-pressed=${tags.includes(tag) ? 'true' : 'false'}
        data-testid=${`tag-pick-${tag}`} onClick=${() => onToggle(tag)}>${tag}</button>`)}
    </div>`)}
  </div>`;
}

export const CONSENT_BASES = ['consent', 'contract', 'legal_obligation'];

/** Consent fields; values: { consent_basis, consent_notice, consent_channel, consent_at }. */
export function ConsentFields({ values, set, errors = {} }) {
  return html`<h3 class="form-section-title">${t('cx.consent.section')}</h3>
    <div class="form-grid form-grid-2" data-testid="customer-form-consent">
      <${SelectField} id="customer-consent_basis" label=${t('cx.consent.basis')} value=${values.consent_basis || ''}
        onChange=${set('consent_basis')} testid="consent-basis" error=${errors.consent_basis}
        options=${[{ value: '', label: t('cx.consent.none') }, ...CONSENT_BASES.map((b) => ({ value: b, label: t(`cx.consent.basis.${b}`) }))]} />
      <${Field} id="customer-consent_notice" label=${t('cx.consent.notice')} value=${values.consent_notice || ''}
        onInput=${set('consent_notice')} testid="consent-notice" required=${false} maxLength=${32} />
      <${Field} id="customer-consent_channel" label=${t('cx.consent.channel')} value=${values.consent_channel || ''}
        onInput=${set('consent_channel')} testid="consent-channel" required=${false} maxLength=${32} />
      <${Field} id="customer-consent_at" label=${t('cx.consent.at')} value=${values.consent_at || ''} type="datetime-local"
        onInput=${set('consent_at')} testid="consent-at" required=${false} />
    </div>`;
}

function pad(n) {
  return String(n).padStart(2, '0');
}

/** A consent record → form values. */
export function consentToForm(c) {
  if (!c) return { consent_basis: '', consent_notice: '', consent_channel: '', consent_at: '' };
  const d = new Date(c.at);
  const local = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
  return { consent_basis: c.basis, consent_notice: c.notice_version || '', consent_channel: c.channel || '', consent_at: local };
}

/** Form values → consent record (null when no basis is chosen). */
export function consentFromForm(v) {
  if (!v.consent_basis) return null;
  const at = v.consent_at ? new Date(v.consent_at) : new Date();
  return {
    basis: v.consent_basis,
    notice_version: (v.consent_notice || '').trim() || null,
    channel: (v.consent_channel || '').trim() || null,
    at: at.toISOString(),
  };
}

/** The consent record on the detail card. */
export function consentText(c) {
  if (!c) return t('cx.consent.missing');
  const basis = CONSENT_BASES.includes(c.basis) ? t(`cx.consent.basis.${c.basis}`) : c.basis;
  return [basis, c.notice_version, c.channel].filter(Boolean).join(' · ');
}
