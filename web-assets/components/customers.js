// Shared pieces of the customer pages: stage and follow-up kind labels,
// badges, the customer form (create and edit), the duplicate warning
// and customer-specific error texts.
import { useEffect, useRef, useState } from '../vendor/preact/hooks.module.js';
import { html } from '../html.js';
import { locale, t } from '../i18n/index.js';
import { api } from '../api.js';
import { can } from '../auth.js';
import { errorText } from '../errors.js';
import { fenToWan, parseWanToFen } from '../money.js';
import { moneyHint } from './money-hint.js';
import { Field } from './field.js';
import { SelectField } from './form.js';
import { Dialog, FormDialog } from './dialog.js';
import { Icon } from './icons.js';
import {
  ConsentFields, CustomFieldInputs, TagGroupPicker, buildCustom, consentFromForm, consentToForm, customToForm,
  loadCustomerSettings,
} from './customer-settings.js';

export const STAGES = [
  { value: 'lead', labelKey: 'stage.lead', tone: 'muted' },
  { value: 'contacted', labelKey: 'stage.contacted', tone: 'info' },
  { value: 'qualified', labelKey: 'stage.qualified', tone: 'info' },
  { value: 'invited', labelKey: 'stage.invited', tone: 'info' },
  { value: 'visited', labelKey: 'stage.visited', tone: 'warning' },
  { value: 'signed', labelKey: 'stage.signed', tone: 'warning' },
  { value: 'won', labelKey: 'stage.won', tone: 'success' },
  { value: 'lost', labelKey: 'stage.lost', tone: 'error' },
  { value: 'invalid', labelKey: 'stage.invalid', tone: 'muted' },
];

export const GRADES = ['A', 'B', 'C', 'D'];

export const FOLLOWUP_KINDS = [
  { value: 'call', labelKey: 'followup.kind.call' },
  { value: 'visit', labelKey: 'followup.kind.visit' },
  { value: 'wechat', labelKey: 'followup.kind.wechat' },
  { value: 'sms', labelKey: 'followup.kind.sms' },
  { value: 'note', labelKey: 'followup.kind.note' },
];

export function stageLabel(stage) {
  const s = STAGES.find((x) => x.value === stage);
  return s ? t(s.labelKey) : stage;
}

export function kindLabel(kind) {
  const k = FOLLOWUP_KINDS.find((x) => x.value === kind);
  return k ? t(k.labelKey) : kind;
}

export function StageBadge({ stage }) {
  const s = STAGES.find((x) => x.value === stage);
  return html`<span class=${`badge badge-stage badge-${s ? s.tone : 'muted'}`} data-stage=${stage}>${stageLabel(stage)}</span>`;
}

export function Stars({ value = 0 }) {
  const n = Math.max(0, Math.min(5, Number(value) || 0));
  // Unrated is not "five grey stars": a dash, like any other empty field.
  if (n === 0) return html`<span class="muted" data-stars="0" title=${t('customers.unrated')}>—</span>`;
  return html`<span class="stars" role="img" aria-label=${t('customers.starsAria', { count: n })} data-stars=${n}>
    <span class="stars-on" aria-hidden="true">${'★'.repeat(n)}</span><span class="stars-off" aria-hidden="true">${'★'.repeat(5 - n)}</span>
  </span>`;
}

export function Tags({ tags }) {
  if (!tags || !tags.length) return html`<span class="muted">—</span>`;
  return html`${tags.map((tag) => html`<span class="tag" key=${tag}>${tag}</span>`)}`;
}

/** "—" for empty text. */
export function orDash(v) {
  return v === null || v === undefined || v === '' ? '—' : v;
}

const HAN = /[\u3400-\u4dbf\u4e00-\u9fff]/;

// English sentences for validation errors of customer fields (in zh-CN the
// server's own Chinese reason is shown).
const FIELD_TEXT = {
  name: 'customers.error.name',
  phone: 'customers.error.phone',
  id_number: 'customers.error.id_number',
  grade: 'customers.error.grade',
  stars: 'customers.error.stars',
  tags: 'customers.error.tags',
  'demand.amount_fen': 'customers.error.amount',
  'demand.term_months': 'customers.error.term',
  content: 'followup.error.content',
  outcome: 'followup.error.outcome',
  next_at: 'followup.error.next_at',
  to_user: 'customer.transfer.error',
};

/** An ApiError from a customer call → text in the current locale. */
export function customerErrorText(error) {
  const zh = locale.value === 'zh-CN' && typeof error?.message === 'string' && HAN.test(error.message);
  switch (error?.code) {
    case 'duplicate':
      return zh ? error.message : t('customers.error.duplicate');
    case 'reveal_quota_exceeded':
      return zh ? error.message : t('customer.reveal.quota');
    case 'followup_locked':
      return zh ? error.message : t('followup.error.locked');
    case 'validation':
      if (zh) return error.message;
      if (FIELD_TEXT[error.field]) return t(FIELD_TEXT[error.field]);
      return errorText(error);
    default:
      return errorText(error);
  }
}

// API field → form field.
const FORM_FIELD = {
  name: 'name',
  phone: 'phone',
  id_number: 'id_number',
  city: 'city',
  company: 'company',
  channel: 'channel',
  assign: 'assign',
  stage: 'stage',
  grade: 'grade',
  stars: 'stars',
  tags: 'tags',
  'demand.amount_fen': 'amount',
  'demand.term_months': 'term',
  'demand.purpose': 'purpose',
  notes: 'notes',
};

export function formFieldOf(apiField) {
  return FORM_FIELD[apiField] || null;
}

export function splitTags(text) {
  const seen = new Set();
  for (const part of String(text || '').split(/[,，、;；\s]+/)) {
    const tag = part.trim();
    if (tag) seen.add(tag);
  }
  return [...seen];
}

export function emptyForm() {
  return {
    name: '', phone: '', id_number: '', city: '', company: '', channel: '', stage: 'lead',
    grade: '', stars: '0', tags: '', amount: '', term: '', purpose: '', notes: '',
  };
}

export function formFromCustomer(c) {
  return {
    name: c.name || '',
    phone: '',
    id_number: '',
    city: c.city || '',
    company: c.company || '',
    channel: c.channel || '',
    stage: c.stage,
    grade: c.grade || '',
    stars: String(c.stars ?? 0),
    tags: (c.tags || []).join(t('customers.tagJoiner')),
    amount: fenToWan(c.demand?.amount_fen),
    term: c.demand?.term_months != null ? String(c.demand.term_months) : '',
    purpose: c.demand?.purpose || '',
    notes: c.notes || '',
  };
}

function phoneDigits(text) {
  let d = String(text || '').replace(/[\s-]/g, '');
  if (d.startsWith('+86')) d = d.slice(3);
  else if (d.startsWith('0086')) d = d.slice(4);
  return d;
}

/** Looks like a whole mainland mobile number (worth a duplicate check). */
export function phoneLooksComplete(text) {
  return /^1\d{10}$/.test(phoneDigits(text));
}

export function idLooksComplete(text) {
  return /^\d{17}[\dXx]$/.test(String(text || '').trim());
}

/**
 * Checks the form and builds the request body. creating: name and phone are
 * required and every filled field is sent; editing: only changed fields
 * (compared with `original`, a customer). → { body, errors }
 */
export function buildCustomerInput(values, { creating, original = null }) {
  const errors = {};
  const name = values.name.trim();
  if (!name) errors.name = t('customers.error.nameRequired');
  else if (Array.from(name).length > 32) errors.name = t('customers.error.nameTooLong');
  const phone = values.phone.trim();
  if (creating && !phone) errors.phone = t('customers.error.phoneRequired');
  else if (phone && !phoneLooksComplete(phone)) errors.phone = t('customers.error.phone');
  const idNumber = values.id_number.trim();
  if (idNumber && !idLooksComplete(idNumber)) errors.id_number = t('customers.error.id_number');
  const amount = parseWanToFen(values.amount);
  if (amount === undefined) errors.amount = t('customers.error.amountFormat');
  const termText = values.term.trim();
  let term = null;
  if (termText) {
    if (!/^\d+$/.test(termText) || Number(termText) < 1 || Number(termText) > 600) errors.term = t('customers.error.term');
    else term = Number(termText);
  }
  const notes = (values.notes || '').trim();
  if (Array.from(notes).length > 1000) errors.notes = t('customers.error.notes');
  const tags = splitTags(values.tags);
  if (tags.length > 30) errors.tags = t('customers.error.tagsTooMany');
  else if (tags.some((x) => Array.from(x).length > 16)) errors.tags = t('customers.error.tags');
  if (Object.keys(errors).length) return { body: null, errors };

  const demand = { amount_fen: amount, term_months: term, purpose: values.purpose.trim() || null };
  const full = {
    name,
    city: values.city.trim(),
    company: values.company.trim(),
    channel: values.channel.trim(),
    stage: values.stage,
    stars: Number(values.stars) || 0,
    tags,
  };
  if (values.grade) full.grade = values.grade;
  if (creating) {
    const body = { ...full, phone };
    if (idNumber) body.id_number = idNumber;
    for (const k of ['city', 'company', 'channel']) if (!body[k]) delete body[k];
    if (demand.amount_fen != null || demand.term_months != null || demand.purpose) body.demand = demand;
    if (notes) body.notes = notes;
    return { body, errors };
  }
  const body = {};
  if (full.name !== original.name) body.name = full.name;
  if (phone) body.phone = phone;
  if (idNumber) body.id_number = idNumber;
  // An emptied optional field is sent as null, which clears it.
  for (const k of ['city', 'company', 'channel']) if (full[k] !== (original[k] || '')) body[k] = full[k] || null;
  if (full.stage !== original.stage) body.stage = full.stage;
  if ((full.grade || null) !== (original.grade || null)) body.grade = full.grade || null;
  if (full.stars !== (original.stars ?? 0)) body.stars = full.stars;
  if (tags.join('\n') !== (original.tags || []).join('\n')) body.tags = tags;
  if (notes !== (original.notes || '')) body.notes = notes || null;
  const od = original.demand || {};
  if (demand.amount_fen !== (od.amount_fen ?? null) || demand.term_months !== (od.term_months ?? null)
    || demand.purpose !== (od.purpose || null)) body.demand = demand;
  return { body, errors };
}

/** One notice for everything duplicate-related in the form: the matches the duplicate check
 *  found by phone and by ID number (each record once, saying which field matched), and the
 *  server's refusal on save. A match the caller may open gets a link; one they may not, the
 *  next step (ask its owner or their manager). */
/** The next step for a match the caller may not open: ask for it (a transfer request the
 *  owner's manager decides), by the number typed; the reason is asked inline. */
function AskForIt({ m, typed, onAsked }) {
  const [state, setState] = useState({ open: false, reason: '', busy: false, error: null, done: false });
  if (!m.owner) return html`<span class="muted" data-testid="duplicate-next">${t('customers.duplicate.inPool')}</span>`;
  if (state.done) return html`<span class="muted" data-testid="transfer-asked">${t('customers.duplicate.asked')}</span>`;
  if (!state.open) {
    return html`<span class="muted" data-testid="duplicate-next">${t('customers.duplicate.askOwner')}</span>
      <button type="button" class="btn btn-sm" data-testid="transfer-ask" onClick=${() => setState({ ...state, open: true })}>${t('customers.duplicate.ask')}</button>`;
  }
  const send = async () => {
    setState({ ...state, busy: true, error: null });
    try {
      await api('POST', '/api/v1/transfer-requests', { [m.by]: typed[m.by], reason: state.reason });
      setState({ ...state, busy: false, done: true });
      // The request is what the user came to do: the dialog turns into its finished state.
      if (onAsked) onAsked();
    } catch (e) {
      setState({ ...state, busy: false, error: errorText(e) });
    }
  };
  const empty = !state.reason.trim();
  return html`<span class="dup-ask">
    <input class="input" placeholder=${t('customers.duplicate.reason')} value=${state.reason} maxlength="200"
      aria-label=${t('customers.duplicate.reasonLabel')} aria-describedby="transfer-reason-hint"
      onInput=${(e) => setState({ ...state, reason: e.currentTarget.value })} data-testid="transfer-reason" />
    <button type="button" class="btn btn-sm btn-primary" disabled=${state.busy || empty} onClick=${send}
      aria-describedby="transfer-reason-hint" title=${empty ? t('customers.duplicate.reasonNeeded') : undefined}
      data-testid="transfer-send">${t('customers.duplicate.send')}</button>
    ${empty && html`<span class="field-hint" id="transfer-reason-hint" data-testid="transfer-reason-hint">${t('customers.duplicate.reasonNeeded')}</span>`}
    ${state.error && html`<span class="field-error" role="alert">${state.error}</span>`}
  </span>`;
}

export function DuplicateNotice({ answers, conflict, onOpen, typed = {}, onAsked }) {
  const seen = new Set();
  const matches = [];
  for (const a of answers) {
    for (const m of (a && a.matches) || []) {
      const key = m.customer_id || `${m.name}|${m.owner}`;
      if (m.by === 'name' || seen.has(key)) continue;
      seen.add(key);
      matches.push(m);
    }
  }
  if (!matches.length && !conflict) return null;
  return html`<div class=${`notice ${conflict ? 'notice-error' : 'notice-warning'} dup-banner`} role="alert"
    data-testid="duplicate-warning">
    ${conflict && html`<strong class="dup-conflict" data-testid="customer-conflict">${conflict}</strong>`}
    ${matches.map((m, i) => html`<div class="dup-row" key=${i} data-by=${m.by}>
      <${Icon} name="alert" size=${16} />
      <span>${t(m.by === 'phone' ? 'customers.duplicate.byPhone' : 'customers.duplicate.byIdNumber',
        { owner: m.owner || t('customers.pool') })}${m.in_recycle_bin ? t('customers.duplicate.inBin') : ''}</span>
      ${m.customer_id
        ? html`<a href=${`/customers/${encodeURIComponent(m.customer_id)}`} class="dup-open"
            data-testid="duplicate-open" onClick=${onOpen}>${t('customers.duplicate.open')}</a>`
        : html`<${AskForIt} m=${m} typed=${typed} onAsked=${onAsked} />`}
    </div>`)}
  </div>`;
}

function Textish({ id, label, value, onInput, error, testid, hint, maxLength, required = false, placeholder, inputMode, list }) {
  if (!list) {
    return html`<${Field} id=${id} label=${label} value=${value} onInput=${onInput} error=${error} testid=${testid}
      hint=${hint} maxLength=${maxLength} required=${required} placeholder=${placeholder} inputMode=${inputMode} />`;
  }
  return html`<div class=${`field${error ? ' has-error' : ''}`}>
    <label class="field-label" for=${id}>${label}</label>
    <input class="input" id=${id} name=${id} value=${value} list=${list} maxlength=${maxLength}
      onInput=${(e) => onInput(e.currentTarget.value)} aria-invalid=${error ? 'true' : 'false'}
      aria-describedby=${error ? `${id}-error` : undefined} data-testid=${testid} />
    ${error && html`<div class="field-error" id=${`${id}-error`} role="alert" data-testid=${`${testid}-error`}>${error}</div>`}
  </div>`;
}

const CHANNEL_KEYS = ['customers.channel.online', 'customers.channel.phone', 'customers.channel.referral',
  'customers.channel.street', 'customers.channel.returning', 'customers.channel.partner'];

/** The fields of the customer form. onBlurField(name) after phone / ID number lose focus. */
export function CustomerFields({ values, errors, set, onBlurField, editing = false, settings = null, customErrors = {}, setCustom }) {
  const blur = (name) => () => onBlurField && onBlurField(name);
  const toggleTag = (tag) => {
    const now = splitTags(values.tags);
    const next = now.includes(tag) ? now.filter((x) => x !== tag) : [...now, tag];
    set('tags')(next.join(t('customers.tagJoiner')));
  };
  return html`
    <h3 class="form-section-title">${t('customers.section.basic')}</h3>
    <div class="form-grid form-grid-2">
      <${Field} id="customer-name" label=${t('customers.field.name')} value=${values.name} onInput=${set('name')}
        error=${errors.name} testid="customer-form-name" maxLength=${32} />
      <div onFocusOut=${blur('phone')}>
        <${Field} id="customer-phone" label=${editing ? t('customers.field.newPhone') : t('customers.field.phone')}
          value=${values.phone} onInput=${set('phone')} error=${errors.phone} testid="customer-form-phone"
          maxLength=${20} inputMode="tel" required=${!editing}
          hint=${editing ? t('customers.keepHint') : t('customers.phoneHint')} />
      </div>
      <div onFocusOut=${blur('id_number')}>
        <${Field} id="customer-id_number" label=${editing ? t('customers.field.newIdNumber') : t('customers.field.idNumber')}
          value=${values.id_number} onInput=${set('id_number')} error=${errors.id_number} testid="customer-form-id-number"
          maxLength=${18} required=${false} hint=${editing ? t('customers.keepHint') : t('customers.optional')} />
      </div>
      <${Field} id="customer-city" label=${t('customers.field.city')} value=${values.city} onInput=${set('city')}
        error=${errors.city} testid="customer-form-city" maxLength=${32} required=${false} />
      <${Field} id="customer-company" label=${t('customers.field.company')} value=${values.company} onInput=${set('company')}
        error=${errors.company} testid="customer-form-company" maxLength=${100} required=${false} />
      <${Textish} id="customer-channel" label=${t('customers.field.channel')} value=${values.channel} onInput=${set('channel')}
        error=${errors.channel} testid="customer-form-channel" maxLength=${32} list="customer-channel-options" />
      <datalist id="customer-channel-options">
        ${CHANNEL_KEYS.map((k) => html`<option key=${k} value=${t(k)} />`)}
      </datalist>
      <${SelectField} id="customer-stage" label=${t('customers.field.stage')} value=${values.stage} onChange=${set('stage')}
        error=${errors.stage} testid="customer-form-stage"
        options=${STAGES.map((s) => ({ value: s.value, label: t(s.labelKey) }))} />
      <${SelectField} id="customer-grade" label=${t('customers.field.grade')} value=${values.grade} onChange=${set('grade')}
        error=${errors.grade} testid="customer-form-grade"
        options=${[{ value: '', label: t('customers.grade.none') }, ...GRADES.map((g) => ({ value: g, label: g }))]} />
      <${SelectField} id="customer-stars" label=${t('customers.field.stars')} value=${values.stars} onChange=${set('stars')}
        error=${errors.stars} testid="customer-form-stars"
        options=${[0, 1, 2, 3, 4, 5].map((n) => ({ value: String(n), label: n ? '★'.repeat(n) : t('customers.stars.none') }))} />
      <${Field} id="customer-tags" label=${t('customers.field.tags')} value=${values.tags} onInput=${set('tags')}
        error=${errors.tags} testid="customer-form-tags" required=${false} hint=${t('customers.tagsHint')} />
    </div>
    ${settings && html`<${TagGroupPicker} groups=${settings.groups} tags=${splitTags(values.tags)} onToggle=${toggleTag} />`}
    ${splitTags(values.tags).length > 0 && html`<div class="tag-preview" data-testid="customer-form-tag-preview">
      ${splitTags(values.tags).map((x) => html`<span class="tag tag-primary" key=${x}>${x}</span>`)}</div>`}
    <h3 class="form-section-title">${t('customers.section.demand')}</h3>
    <div class="form-grid form-grid-3">
      <${Field} id="customer-amount" label=${t('customers.field.amountWan')} value=${values.amount} onInput=${set('amount')}
        error=${errors.amount} testid="customer-form-amount" required=${false} inputMode="decimal"
        hint=${moneyHint(values.amount, 'wan')}
        placeholder=${t('customers.amountPlaceholder')} />
      <${Field} id="customer-term" label=${t('customers.field.termMonths')} value=${values.term} onInput=${set('term')}
        error=${errors.term} testid="customer-form-term" required=${false} inputMode="numeric" maxLength=${3} />
      <${Field} id="customer-purpose" label=${t('customers.field.purpose')} value=${values.purpose} onInput=${set('purpose')}
        error=${errors.purpose} testid="customer-form-purpose" required=${false} maxLength=${64} />
    </div>
    <div class=${`field${errors.notes ? ' has-error' : ''}`}>
      <label class="field-label" for="customer-notes">${t('customers.field.notes')}</label>
      <textarea class="input" id="customer-notes" rows="3" maxlength="1000" value=${values.notes || ''}
        onInput=${(e) => set('notes')(e.currentTarget.value)} aria-invalid=${errors.notes ? 'true' : 'false'}
        data-testid="customer-form-notes"></textarea>
      ${errors.notes && html`<p class="field-error" role="alert">${errors.notes}</p>`}
    </div>
    ${settings && html`<${CustomFieldInputs} defs=${settings.fields} values=${values.custom || {}} errors=${customErrors}
      set=${setCustom} />`}
    <${ConsentFields} values=${values} set=${set} errors=${errors} />`;
}

const ORDER = ['name', 'phone', 'id_number', 'city', 'company', 'channel', 'stage', 'grade', 'stars', 'tags', 'amount', 'term', 'purpose', 'assign'];

function focusFirst(errors) {
  const first = ORDER.find((f) => errors[f]);
  if (first) document.getElementById(`customer-${first}`)?.focus();
}

/**
 * Create (customer absent) or edit (customer given) dialog.
 * onDone(customerView) after the server accepted it.
 */
/** The form's label of a field an edit conflict names (the server's field names). */
const CONFLICT_LABELS = {
  name: 'customers.field.name', phone: 'customers.field.phone', extra_phones: 'customers.field.phone',
  id_number: 'customers.field.idNumber', city: 'customers.field.city', company: 'customers.field.company',
  address: 'customer.edit.conflict.field.address', channel: 'customers.field.channel', stage: 'customers.field.stage',
  grade: 'customers.field.grade', stars: 'customers.field.stars', tags: 'customers.field.tags',
  notes: 'customers.field.notes', demand: 'customer.edit.conflict.field.demand', owner_id: 'customer.edit.conflict.field.owner',
  next_followup_at: 'customers.field.nextFollowup', profile: 'customer.edit.conflict.field.profile',
  intent: 'customer.edit.conflict.field.intent', custom: 'customer.edit.conflict.field.custom',
  consent: 'customer.edit.conflict.field.consent',
};

/** A field's value as it is now, for the conflict notice (empty when there is none to show). */
function conflictValue(c, field) {
  const v = c[field];
  if (field === 'stage') return v ? t(`stage.${v}`) : '';
  if (field === 'tags') return (v || []).join(t('customers.tagJoiner'));
  if (field === 'demand') {
    const d = v || {};
    return [d.amount_fen != null ? `${fenToWan(d.amount_fen)}${t('customer.edit.conflict.wan')}` : '', d.purpose || ''].filter(Boolean).join(' · ');
  }
  if (field === 'owner_id' || field === 'next_followup_at' || field === 'custom' || field === 'profile' || field === 'consent') return '';
  if (v == null) return '';
  return typeof v === 'object' ? '' : String(v);
}

/**
 * Someone saved this customer after the dialog was opened (409 edit_conflict): what they
 * changed, with their values, and the choice to reload them or to save over them on purpose.
 */
export function EditConflict({ stale, busy, onReload, onOverwrite }) {
  const current = stale.current || {};
  const fields = (stale.fields || []).filter((f, i, all) => all.indexOf(f) === i);
  return html`<div class="notice notice-warning edit-conflict" role="alert" data-testid="edit-conflict">
    <strong>${t('customer.edit.conflict.title')}</strong>
    ${stale.updated_by && html`<span> ${t('customer.edit.conflict.by', { name: stale.updated_by })}</span>`}
    ${fields.length > 0 && html`<ul data-testid="edit-conflict-fields">
      ${fields.map((f) => {
        const value = conflictValue(current, f);
        return html`<li key=${f} data-field=${f}>${t(CONFLICT_LABELS[f] || 'customer.edit.conflict.field.other')}${value
          ? t('customer.edit.conflict.now', { value }) : ''}</li>`;
      })}
    </ul>`}
    <p class="muted">${t('customer.edit.conflict.hint')}</p>
    <div class="actions">
      <button type="button" class="btn" disabled=${busy} onClick=${onReload} data-testid="edit-conflict-reload">${t('customer.edit.conflict.reload')}</button>
      <button type="button" class="btn btn-danger-outline" disabled=${busy} onClick=${onOverwrite} data-testid="edit-conflict-overwrite">${t('customer.edit.conflict.overwrite')}</button>
    </div>
  </div>`;
}

export function CustomerDialog({ customer: opened = null, onClose, onDone }) {
  const editing = Boolean(opened);
  // The copy the edit is made on: the record as opened, or as reloaded after a conflict. Its
  // updated_at goes with the save, so a save over someone else's newer values is refused.
  const [customer, setCustomer] = useState(opened);
  const [stale, setStale] = useState(null);
  const [asked, setAsked] = useState(false);
  const [values, setValues] = useState(() => ({
    ...(editing ? formFromCustomer(customer) : emptyForm()),
    ...consentToForm(editing ? customer.consent : null),
    custom: {},
    assign: '',
  }));
  // Managers may let the assignment rule (assign.pick) choose the new customer's owner.
  const mayAssign = !editing && can('customer.assign');
  const [errors, setErrors] = useState({});
  const [settings, setSettings] = useState(null);
  const [customErrors, setCustomErrors] = useState({});
  useEffect(() => {
    loadCustomerSettings().then((st) => {
      setSettings(st);
      const custom = {};
      for (const d of st.fields) custom[d.key] = customToForm(d, editing ? (customer.custom || {})[d.key] : null);
      setValues((v) => ({ ...v, custom }));
    });
  }, []);
  const setCustom = (key, value) => {
    setValues((v) => ({ ...v, custom: { ...v.custom, [key]: value } }));
    setCustomErrors((e) => ({ ...e, [key]: null }));
  };
  const [formError, setFormError] = useState(null);
  const [busy, setBusy] = useState(false);
  const [dup, setDup] = useState(null);
  const [conflict, setConflict] = useState(null);
  const checked = useRef({});

  const set = (name) => (value) => {
    setValues((v) => ({ ...v, [name]: value }));
    setErrors((e) => ({ ...e, [name]: null }));
    if (name === 'phone' || name === 'id_number') setConflict(null);
  };

  const onBlurField = async (name) => {
    const value = values[name].trim();
    const complete = name === 'phone' ? phoneLooksComplete(value) : idLooksComplete(value);
    if (!complete || checked.current[name] === value) return;
    checked.current[name] = value;
    try {
      const answer = await api('POST', '/api/v1/customers/check-duplicate', { [name]: value });
      setDup((prev) => ({ ...prev, [name]: answer }));
    } catch (error) {
      checked.current[name] = null;
      if (error.code === 'validation' && formFieldOf(error.field)) {
        setErrors((e) => ({ ...e, [formFieldOf(error.field)]: customerErrorText(error) }));
      }
    }
  };

  const onSubmit = async (overwrite = null) => {
    setFormError(null);
    setConflict(null);
    const { body, errors: found } = buildCustomerInput(values, { creating: !editing, original: customer });
    setErrors(found);
    if (Object.keys(found).length) {
      focusFirst(found);
      return;
    }
    const defs = settings ? settings.fields : [];
    const { custom, errors: cErrors } = buildCustom(defs, values.custom || {}, editing ? (customer.custom || {}) : null);
    setCustomErrors(cErrors);
    if (Object.keys(cErrors).length) return;
    if (Object.keys(custom).length) body.custom = custom;
    const consent = consentFromForm(values);
    if (!editing) {
      if (consent) body.consent = consent;
      if (mayAssign && values.assign === 'auto') body.assign = 'auto';
    } else {
      const before = customer.consent || null;
      const same = (a, b) => (!a && !b) || (a && b && a.basis === b.basis && (a.notice_version || null) === (b.notice_version || null)
        && (a.channel || null) === (b.channel || null) && Math.abs(new Date(a.at) - new Date(b.at)) < 60000);
      if (!same(consent, before)) body.consent = consent;
    }
    if (editing && !Object.keys(body).length) {
      onClose();
      return;
    }
    if (editing) body.expected_updated_at = overwrite || customer.updated_at;
    setBusy(true);
    try {
      const saved = editing
        ? await api('PATCH', `/api/v1/customers/${encodeURIComponent(customer.id)}`, body)
        : await api('POST', '/api/v1/customers', body);
      onDone(saved);
    } catch (error) {
      setBusy(false);
      if (error.code === 'edit_conflict' && error.details) {
        setStale(error.details);
        return;
      }
      setStale(null);
      if (error.code === 'duplicate') {
        setConflict(customerErrorText(error));
        return;
      }
      if (error.code === 'validation' && String(error.field || '').startsWith('custom.')) {
        setCustomErrors({ [error.field.slice(7)]: customerErrorText(error) });
        return;
      }
      const field = error.code === 'validation' ? formFieldOf(error.field) : null;
      if (field) {
        setErrors({ [field]: customerErrorText(error) });
        focusFirst({ [field]: true });
      } else {
        setFormError(customerErrorText(error));
      }
    }
  };

  const answers = dup ? [dup.phone, dup.id_number].filter((a) => a && a.exists) : [];
  if (asked) {
    // The number was a colleague's customer and the user asked for it (probe finding 13): there
    // is nothing to create, so the form and its create button give way to what happens next.
    return html`<${Dialog} title=${t('customers.create.title')} onClose=${onClose} testid="customer-dialog"
      footer=${html`<button type="button" class="btn btn-primary" data-autofocus onClick=${onClose}
        data-testid="customer-dialog-done">${t('customers.duplicate.done')}</button>`}>
      <p class="notice notice-success" role="status" data-testid="transfer-asked">${t('customers.duplicate.asked')}</p>
    <//>`;
  }
  return html`<${FormDialog} title=${editing ? t('customer.edit.title') : t('customers.create.title')}
    onClose=${onClose} onSubmit=${onSubmit} busy=${busy} size="lg" testid="customer-dialog"
    submitLabel=${editing ? t('common.save') : t('customers.create.submit')}
    busyLabel=${editing ? t('common.saving') : t('common.creating')} error=${formError}>
    ${stale && html`<${EditConflict} stale=${stale} busy=${busy}
      onReload=${() => {
        // Their values in the form, my unsaved changes dropped: the user edits the record as it is.
        const current = stale.current;
        setCustomer(current);
        setValues((v) => ({ ...v, ...formFromCustomer(current), ...consentToForm(current.consent) }));
        setErrors({});
        setStale(null);
      }}
      onOverwrite=${() => { const at = stale.updated_at; setStale(null); onSubmit(at); }} />`}
    <${DuplicateNotice} answers=${answers} conflict=${conflict} onOpen=${onClose} onAsked=${() => setAsked(true)}
      typed=${{ phone: values.phone.trim(), id_number: values.id_number.trim() }} />
    <${CustomerFields} values=${values} errors=${errors} set=${set} onBlurField=${onBlurField} editing=${editing}
      settings=${settings} customErrors=${customErrors} setCustom=${setCustom} />
    ${mayAssign && html`<div class="form-grid form-grid-2">
      <${SelectField} id="customer-assign" label=${t('customers.assign')} value=${values.assign} onChange=${set('assign')}
        error=${errors.assign} testid="customer-form-assign" hint=${t('customers.assign.hint')}
        options=${[{ value: '', label: t('customers.assign.me') }, { value: 'auto', label: t('customers.assign.auto') }]} />
    </div>`}
  <//>`;
}
