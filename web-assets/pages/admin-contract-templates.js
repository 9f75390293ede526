// /admin/contract-templates — contract templates, capability settings.manage: the list,
// an editor (name, kind, active, the text with a clickable placeholder list), a preview
// rendered by the server against a real deal (id pasted or picked from recent deals; a render
// error shows its line and placeholder), and the version list (every save is a new version;
// contracts keep the version they were made from).
import { useEffect, useState } from '../vendor/preact/hooks.module.js';
import { html } from '../html.js';
import { t } from '../i18n/index.js';
import { api } from '../api.js';
import { errorText } from '../errors.js';
import { Field } from '../components/field.js';
import { Checkbox, SelectField } from '../components/form.js';
import { EmptyState, LoadError, Loading } from '../components/states.js';
import { toast } from '../components/toast.js';
import { formatDateTime } from '../format.js';

const KINDS = ['service_agreement', 'authorisation', 'fee_confirmation', 'other'];

function Editor({ template, placeholders, onSaved, onCancel }) {
  const [name, setName] = useState(template ? template.name : '');
  const [kind, setKind] = useState(template ? template.kind : 'service_agreement');
  const [active, setActive] = useState(template ? template.active : true);
  const [body, setBody] = useState(template ? template.body : '');
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const [deals, setDeals] = useState([]);
  const [dealId, setDealId] = useState('');
  const [preview, setPreview] = useState(null);
  const [versions, setVersions] = useState([]);
  useEffect(() => {
    api('GET', '/api/v1/deals?limit=20').then((p) => {
      setDeals(p.items);
      if (p.items.length) setDealId(p.items[0].id);
    }).catch(() => setDeals([]));
    if (template) {
      api('GET', `/api/v1/contract-templates/${encodeURIComponent(template.id)}/versions`)
        .then((v) => setVersions(v.items)).catch(() => setVersions([]));
    }
  }, [template && template.id]);

  const save = async () => {
    setBusy(true);
    setError(null);
    try {
      const input = { name, kind, active, body };
      const saved = template
        ? await api('PUT', `/api/v1/contract-templates/${encodeURIComponent(template.id)}`, input)
        : await api('POST', '/api/v1/contract-templates', input);
      toast(t('templates.saved', { version: saved.version }));
      onSaved(saved);
    } catch (e) {
      setError(errorText(e));
    }
    setBusy(false);
  };
  const runPreview = async () => {
    if (!template) return;
    try {
      setPreview(await api('POST', `/api/v1/contract-templates/${encodeURIComponent(template.id)}/preview`,
        { deal_id: dealId.trim(), body }));
    } catch (e) {
      setPreview({ error: { message: errorText(e) } });
    }
  };
  const insert = (path) => setBody(`${body}{{ ${path} }}`);

  return html`<div class="template-editor" data-testid="template-editor">
    <div class="card">
      <${Field} id="tpl-name" label=${t('templates.name')} value=${name} onInput=${setName} maxLength=${60} testid="tpl-name" />
      <${SelectField} id="tpl-kind" label=${t('templates.kind')} value=${kind} onChange=${setKind}
        options=${KINDS.map((k) => ({ value: k, label: t(`templates.kind.${k}`) }))} testid="tpl-kind" />
      <${Checkbox} id="tpl-active" label=${t('templates.active')} checked=${active} onChange=${setActive} />
      <div class="field">
        <label class="field-label" for="tpl-body">${t('templates.body')}</label>
        <textarea id="tpl-body" class="input textarea template-body" value=${body} spellcheck=${false}
          onInput=${(e) => setBody(e.currentTarget.value)} data-testid="tpl-body"></textarea>
      </div>
      ${error && html`<div class="form-error" role="alert" data-testid="tpl-error">${error}</div>`}
      <div class="contract-actions">
        <button type="button" class="btn btn-primary" disabled=${busy} onClick=${save} data-testid="tpl-save">${t('templates.save')}</button>
        <button type="button" class="btn" disabled=${busy} onClick=${onCancel}>${t('common.cancel')}</button>
      </div>
      <h3>${t('templates.placeholders')}</h3>
      <div class="placeholder-list">${placeholders.map((p) => html`<div key=${p.path}>
        <code role="button" tabindex="0" onClick=${() => insert(p.path)}>{{ ${p.path} }}</code>
        <span class="muted"> ${p.zh}</span></div>`)}</div>
    </div>
    <div class="card">
      <h3>${t('templates.preview')}</h3>
      ${template ? html`
        <div class="contract-generate">
          <${SelectField} id="tpl-deal" label=${t('templates.previewDeal')} value=${dealId} onChange=${setDealId}
            options=${deals.map((d) => ({ value: d.id, label: `${d.customer_name} · ${d.product.name}` }))} testid="tpl-deal" />
          <button type="button" class="btn" disabled=${!dealId} onClick=${runPreview} data-testid="tpl-preview">${t('templates.runPreview')}</button>
        </div>
        ${deals.length === 0 && html`<p class="muted">${t('templates.noDeals')}</p>`}
        ${preview && preview.error && html`<div class="form-error" role="alert" data-testid="tpl-preview-error">${preview.error.message}</div>`}
        ${preview && preview.html && html`<article class="contract-body" data-testid="tpl-preview-html" dangerouslySetInnerHTML=${{ __html: preview.html }}></article>`}
        <h3>${t('templates.versions')}</h3>
        <ul class="muted">${versions.map((v) => html`<li key=${v.version}>${t('contract.version', { version: v.version })} · ${formatDateTime(v.updated_at, { seconds: false })}</li>`)}</ul>`
      : html`<p class="muted">${t('templates.previewAfterSave')}</p>`}
    </div>
  </div>`;
}

export function AdminContractTemplatesPage() {
  const [state, setState] = useState({ status: 'loading' });
  const [placeholders, setPlaceholders] = useState([]);
  const [editing, setEditing] = useState(null);
  const load = async () => {
    try {
      setState({ status: 'ready', items: (await api('GET', '/api/v1/contract-templates')).items });
    } catch (error) {
      setState({ status: 'error', error });
    }
  };
  useEffect(() => {
    load();
    api('GET', '/api/v1/contract-templates/placeholders').then(setPlaceholders).catch(() => setPlaceholders([]));
  }, []);
  if (state.status === 'loading') return html`<section class="page page-wide"><${Loading} /></section>`;
  if (state.status === 'error') return html`<section class="page page-wide"><${LoadError} error=${state.error} onRetry=${load} /></section>`;
  return html`<section class="page page-wide" data-testid="page-contract-templates">
    <header class="page-header page-header-row">
      <div>
        <h1 class="page-title">${t('templates.title')}</h1>
        <p class="page-subtitle">${t('templates.subtitle')}</p>
      </div>
      <div class="page-actions">
        <button type="button" class="btn btn-primary" onClick=${() => setEditing({ template: null })} data-testid="tpl-new">${t('templates.new')}</button>
      </div>
    </header>
    ${editing
      ? html`<${Editor} key=${editing.template ? `${editing.template.id}/${editing.template.version}` : 'new'}
          template=${editing.template} placeholders=${placeholders}
          onSaved=${(saved) => { setEditing({ template: saved }); load(); }} onCancel=${() => setEditing(null)} />`
      : state.items.length === 0
        ? html`<${EmptyState} title=${t('templates.empty')} />`
        : html`<div class="card"><ul class="contract-list">${state.items.map((x) => html`<li key=${x.id} class="contract-item" data-testid="tpl-item">
            <div class="contract-head"><strong>${x.name}</strong>
              <span class="badge">${t(`templates.kind.${x.kind}`)}</span>
              ${!x.active && html`<span class="badge badge-error">${t('templates.inactive')}</span>`}</div>
            <div class="muted">${t('contract.version', { version: x.version })} · ${formatDateTime(x.updated_at, { seconds: false })}</div>
            <div class="contract-actions"><button type="button" class="btn" onClick=${() => setEditing({ template: x })} data-testid="tpl-edit">${t('templates.edit')}</button></div>
          </li>`)}</ul></div>`}
  </section>`;
}
