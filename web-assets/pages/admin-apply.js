// /admin/apply — online application forms (settings.manage): the list with each
// form's public link, an iframe snippet to embed it, create and edit (the consent texts get a
// new version when edited), and a form's submissions (phones masked).
import { useEffect, useState } from '../vendor/preact/hooks.module.js';
import { html } from '../html.js';
import { t } from '../i18n/index.js';
import { api } from '../api.js';
import { errorText, placeError } from '../errors.js';
import { Field } from '../components/field.js';
import { Checkbox, CheckboxGroup } from '../components/form.js';
import { Dialog, FormDialog } from '../components/dialog.js';
import { EmptyState, LoadError, Loading } from '../components/states.js';
import { Icon } from '../components/icons.js';
import { toast } from '../components/toast.js';

const FIELD_KEYS = ['name', 'city', 'amount', 'purpose', 'monthly_income', 'has_property', 'has_car'];
const FORM_FIELDS = ['slug', 'title', 'intro', 'channel', 'fields', 'consent_general', 'consent_sensitive', 'frame_ancestors', 'min_fill_seconds'];

function publicUrl(form) {
  return `${window.location.origin}${form.path}`;
}

function iframeSnippet(form) {
  return `<iframe src="${publicUrl(form)}" style="width:100%;max-width:560px;height:900px;border:0" loading="lazy"></iframe>`;
}

async function copy(text) {
  try {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text);
      toast(t('apply.copied'));
      return;
    }
  } catch { /* fall through: show it */ }
  window.prompt(t('apply.copyPrompt'), text);
}

function TextArea({ id, label, value, onInput, error, testid, hint }) {
  return html`<div class=${`field${error ? ' has-error' : ''}`}>
    <label class="field-label" for=${id}>${label}</label>
    <textarea class="input textarea" id=${id} rows="4" value=${value} data-testid=${testid}
      aria-invalid=${error ? 'true' : 'false'} onInput=${(e) => onInput(e.currentTarget.value)}></textarea>
    ${error && html`<div class="field-error" role="alert">${error}</div>`}
    ${hint && !error && html`<div class="field-hint">${hint}</div>`}
  </div>`;
}

function FormEditor({ form, onClose, onSaved }) {
  const [f, setF] = useState(() => ({
    slug: form?.slug || '',
    title: form?.title || t('apply.defaultTitle'),
    channel: form?.channel || t('apply.defaultChannel'),
    intro: form?.intro || '',
    fields: form?.fields || ['name', 'city', 'amount'],
    consent_general: form?.consent_general.text || t('apply.defaultConsent'),
    consent_sensitive: form?.consent_sensitive.text || t('apply.defaultSensitive'),
    frame_ancestors: (form?.frame_ancestors || []).join('\n'),
    min_fill_seconds: String(form?.min_fill_seconds ?? 3),
    active: form ? form.active : true,
  }));
  const [errors, setErrors] = useState({});
  const [formError, setFormError] = useState(null);
  const [busy, setBusy] = useState(false);
  const set = (k) => (v) => { setF({ ...f, [k]: v }); setErrors({}); };

  const onSubmit = async () => {
    setBusy(true);
    setFormError(null);
    const body = {
      ...f,
      intro: f.intro.trim() || null,
      frame_ancestors: f.frame_ancestors.split(/\s+/).filter(Boolean),
      min_fill_seconds: Number(f.min_fill_seconds) || 0,
    };
    try {
      const saved = form
        ? await api('PUT', `/api/v1/application-forms/${encodeURIComponent(form.id)}`, body)
        : await api('POST', '/api/v1/application-forms', body);
      onSaved(saved);
    } catch (error) {
      setBusy(false);
      const placed = placeError(error, FORM_FIELDS);
      if (placed.field) setErrors({ [placed.field]: placed.text });
      else setFormError(placed.text);
    }
  };

  return html`<${FormDialog} title=${form ? t('apply.edit.title', { title: form.title }) : t('apply.create.title')}
    onClose=${onClose} onSubmit=${onSubmit} busy=${busy} error=${formError} testid="apply-dialog" size="lg">
    <${Field} id="apply-title" label=${t('apply.field.title')} value=${f.title} onInput=${set('title')} error=${errors.title} testid="apply-title" maxLength=${60} />
    <${Field} id="apply-slug" label=${t('apply.field.slug')} value=${f.slug} onInput=${set('slug')} error=${errors.slug}
      hint=${t('apply.field.slugHint')} testid="apply-slug" maxLength=${40} />
    <${TextArea} id="apply-intro" label=${t('apply.field.intro')} value=${f.intro} onInput=${set('intro')} error=${errors.intro}
      testid="apply-intro" hint=${t('apply.field.introHint')} />
    <${Field} id="apply-channel" label=${t('apply.field.channel')} value=${f.channel} onInput=${set('channel')} error=${errors.channel}
      hint=${t('apply.field.channelHint')} testid="apply-channel" maxLength=${40} />
    <${CheckboxGroup} id="apply-fields" legend=${t('apply.field.fields')} value=${f.fields} onChange=${set('fields')} error=${errors.fields}
      hint=${t('apply.field.fieldsHint')} columns=${2} testid="apply-fields"
      options=${FIELD_KEYS.map((k) => ({ value: k, label: t(`apply.fieldKey.${k}`) }))} />
    <${TextArea} id="apply-consent-general" label=${t('apply.field.consentGeneral')} value=${f.consent_general}
      onInput=${set('consent_general')} error=${errors.consent_general} testid="apply-consent-general" hint=${t('apply.field.consentHint')} />
    <${TextArea} id="apply-consent-sensitive" label=${t('apply.field.consentSensitive')} value=${f.consent_sensitive}
      onInput=${set('consent_sensitive')} error=${errors.consent_sensitive} testid="apply-consent-sensitive" />
    <${TextArea} id="apply-frame" label=${t('apply.field.frameAncestors')} value=${f.frame_ancestors}
      onInput=${set('frame_ancestors')} error=${errors.frame_ancestors} testid="apply-frame" hint=${t('apply.field.frameHint')} />
    <${Field} id="apply-min-fill" type="number" inputMode="numeric" min="0" max="600" label=${t('apply.field.minFill')}
      value=${f.min_fill_seconds} onInput=${set('min_fill_seconds')} error=${errors.min_fill_seconds} testid="apply-min-fill"
      hint=${t('apply.field.minFillHint')} />
    <${Checkbox} id="apply-active" label=${t('apply.field.active')} checked=${f.active} onChange=${set('active')} testid="apply-active" />
  <//>`;
}

function Submissions({ form, onClose }) {
  const [state, setState] = useState({ status: 'loading' });
  const load = async (cursor) => {
    try {
      const q = cursor ? `?cursor=${encodeURIComponent(cursor)}` : '';
      const page = await api('GET', `/api/v1/application-forms/${encodeURIComponent(form.id)}/submissions${q}`);
      setState((s) => ({ status: 'ready', total: page.total, next: page.next_cursor,
        items: cursor && s.items ? [...s.items, ...page.items] : page.items }));
    } catch (error) {
      setState({ status: 'error', error });
    }
  };
  useEffect(() => { load(null); }, []);
  let body;
  if (state.status === 'loading') body = html`<${Loading} />`;
  else if (state.status === 'error') body = html`<${LoadError} error=${state.error} onRetry=${() => load(null)} />`;
  else if (!state.items.length) body = html`<${EmptyState} title=${t('apply.subs.empty')} body=${t('apply.subs.emptyBody')} testid="apply-subs-empty" />`;
  else {
    body = html`<div class="table-wrap"><table class="table" data-testid="apply-subs">
      <thead><tr><th>${t('apply.subs.at')}</th><th>${t('apply.subs.phone')}</th><th>${t('apply.subs.kind')}</th><th>${t('apply.subs.consent')}</th></tr></thead>
      <tbody>${state.items.map((s) => html`<tr key=${s.id}>
        <td>${new Date(s.at).toLocaleString()}</td>
        <td><a href=${`/customers/${encodeURIComponent(s.customer_id)}`}>${s.phone_masked}</a></td>
        <td>${s.new_customer ? t('apply.subs.new') : t('apply.subs.existing')}</td>
        <td>${t('apply.subs.versions', { general: s.consent_general_version, sensitive: s.consent_sensitive_version || '—' })}</td>
      </tr>`)}</tbody></table></div>
      ${state.next && html`<button type="button" class="btn" onClick=${() => load(state.next)}>${t('apply.subs.more')}</button>`}`;
  }
  return html`<${Dialog} title=${t('apply.subs.title', { title: form.title, count: state.total ?? 0 })} onClose=${onClose} size="lg" testid="apply-subs-dialog">
    ${body}
  <//>`;
}

export function AdminApplyPage() {
  const [state, setState] = useState({ status: 'loading' });
  const [dialog, setDialog] = useState(null); // { type: 'edit'|'subs', form? }
  const load = async () => {
    try {
      const list = await api('GET', '/api/v1/application-forms');
      setState({ status: 'ready', items: list.items });
    } catch (error) {
      setState({ status: 'error', error });
    }
  };
  useEffect(() => { load(); }, []);
  const close = () => setDialog(null);

  let body;
  if (state.status === 'loading') body = html`<${Loading} testid="apply-loading" />`;
  else if (state.status === 'error') body = html`<${LoadError} error=${state.error} onRetry=${load} />`;
  else if (!state.items.length) {
    body = html`<${EmptyState} icon="inbox" title=${t('apply.empty.title')} body=${t('apply.empty.body')} testid="apply-empty">
      <button type="button" class="btn btn-primary" onClick=${() => setDialog({ type: 'edit' })}>${t('apply.create.button')}</button>
    <//>`;
  } else {
    body = html`<ul class="card-list" data-testid="apply-forms">${state.items.map((f) => html`<li key=${f.id} class="card" data-testid=${`apply-form-${f.slug}`}>
      <h2 class="card-title">${f.title} ${!f.active && html`<span class="tag tag-muted">${t('apply.inactive')}</span>`}</h2>
      <p class="muted">${t('apply.summary', { channel: f.channel, count: f.submissions, general: f.consent_general.version, sensitive: f.consent_sensitive.version })}</p>
      <p><a href=${f.path} target="_blank" rel="noopener" data-testid="apply-link">${publicUrl(f)}</a></p>
      <div class="row-actions">
        <button type="button" class="btn btn-sm" onClick=${() => copy(publicUrl(f))} data-testid="apply-copy-link">${t('apply.copyLink')}</button>
        <button type="button" class="btn btn-sm" onClick=${() => copy(iframeSnippet(f))} data-testid="apply-copy-iframe">${t('apply.copyIframe')}</button>
        <button type="button" class="btn btn-sm" onClick=${() => setDialog({ type: 'subs', form: f })} data-testid="apply-subs-open">${t('apply.subs.open')}</button>
        <button type="button" class="btn btn-sm btn-text" onClick=${() => setDialog({ type: 'edit', form: f })} data-testid="apply-edit"><${Icon} name="edit" size=${15} />${t('common.edit')}</button>
      </div>
    </li>`)}</ul>`;
  }
  return html`<section class="page" data-testid="page-admin-apply">
    <header class="page-header page-header-row">
      <div>
        <h1 class="page-title">${t('apply.title')}</h1>
        <p class="page-subtitle">${t('apply.subtitle')}</p>
      </div>
      <button type="button" class="btn btn-primary" disabled=${state.status !== 'ready'} data-testid="apply-create"
        onClick=${() => setDialog({ type: 'edit' })}><${Icon} name="plus" size=${16} /><span>${t('apply.create.button')}</span></button>
    </header>
    ${body}
    ${dialog?.type === 'edit' && html`<${FormEditor} form=${dialog.form} onClose=${close}
      onSaved=${(f) => { close(); toast(t('apply.saved', { title: f.title })); load(); }} />`}
    ${dialog?.type === 'subs' && html`<${Submissions} form=${dialog.form} onClose=${close} />`}
  </section>`;
}
