// The contracts card on the deal page: generate a contract from a template, its state, the
// one-time signing link (shown once, with its expiry, to copy into WeChat/SMS), view,
// verify, void (confirmed) and download the PDF. The full text of a contract holds the
// borrower's whole ID number: the server sends the masked copy to anyone without
// id_number.view_full. Above the firm's comprehensive-cost cap the server refuses to make or
// send a contract (deal_cost_over_cap): the refusal is shown in a dialog, and a manager
// (deal.may_override) may tick the override and give a reason (audited) to go on.
import { useEffect, useState } from '../vendor/preact/hooks.module.js';
import { html } from '../html.js';
import { t } from '../i18n/index.js';
import { api } from '../api.js';
import { can } from '../auth.js';
import { formatDateTime } from '../format.js';
import { errorText } from '../errors.js';
import { toast } from './toast.js';
import { ConfirmDialog, Dialog, FormDialog } from './dialog.js';
import { Checkbox, SelectField } from './form.js';
import { Field } from './field.js';

const STATE_TONE = { draft: '', sent: 'badge-warning', signed: 'badge-success', void: 'badge-error' };

export function ContractStateBadge({ state }) {
  return html`<span class=${`badge ${STATE_TONE[state] || ''}`} data-testid="contract-state">${t(`contract.state.${state}`)}</span>`;
}

function ViewDialog({ c, onClose }) {
  return html`<${Dialog} title=${c.title} onClose=${onClose} size="lg" testid="contract-view">
    ${c.masked && html`<p class="muted">${t('contract.maskedNote')}</p>`}
    <article class="contract-body" dangerouslySetInnerHTML=${{ __html: c.content }}></article>
    ${c.content_sha256 ? html`<p class="muted contract-hash">SHA-256 <code>${c.content_sha256}</code></p>` : null}
    ${c.signed && html`<div class="contract-signed" data-testid="contract-signed">
      <h3>${t('contract.signedTitle')}</h3>
      <img src=${c.signed.signature_png} alt=${t('contract.signature')} class="contract-signature" />
      <dl class="desc-list">
        <dt>${t('contract.signedAt')}</dt><dd>${formatDateTime(c.signed.at)}</dd>
        <dt>${t('contract.typedName')}</dt><dd>${c.signed.typed_name || '—'}</dd>
        <dt>IP</dt><dd>${c.signed.ip}</dd>
        <dt>${t('contract.userAgent')}</dt><dd>${c.signed.user_agent}</dd>
        <dt>${t('contract.consents')}</dt>
        <dd>${c.signed.consents.map((g) => html`<div key=${g.key}>${g.key} · ${t('contract.version', { version: g.version })}</div>`)}</dd>
      </dl>
    </div>`}
  <//>`;
}

function LinkDialog({ link, onClose }) {
  const url = link.signing_url.startsWith('http') ? link.signing_url : `${window.location.origin}${link.signing_url}`;
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(url);
      toast(t('contract.link.copied'));
    } catch {
      toast(t('contract.link.copyFailed'), { tone: 'error' });
    }
  };
  return html`<${Dialog} title=${t('contract.link.title')} onClose=${onClose} testid="contract-link"
    footer=${html`<button type="button" class="btn btn-primary" onClick=${copy} data-testid="contract-link-copy">${t('contract.link.copy')}</button>`}>
    <p>${t('contract.link.once')}</p>
    <input class="input" readonly value=${url} data-testid="contract-link-url" onFocus=${(e) => e.currentTarget.select()} />
    <p class="muted">${t('contract.link.expires', { at: formatDateTime(link.expires_at, { seconds: false }) })}</p>
  <//>`;
}

function VoidDialog({ c, onClose, onDone }) {
  const [reason, setReason] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const confirm = async () => {
    setBusy(true);
    try {
      onDone(await api('POST', `/api/v1/contracts/${encodeURIComponent(c.id)}/void`, { reason }));
    } catch (e) {
      setError(errorText(e));
      setBusy(false);
    }
  };
  return html`<${ConfirmDialog} title=${t('contract.void.title')} body=${t('contract.void.body')}
    confirmLabel=${t('contract.void.confirm')} onConfirm=${confirm} onClose=${onClose} busy=${busy} error=${error}>
    <${Field} id="void-reason" label=${t('contract.void.reason')} value=${reason} onInput=${setReason} maxLength=${200} testid="contract-void-reason" />
  <//>`;
}

// The cost-cap refusal, and for a manager the override (checkbox + reason) to retry with.
function CostCapDialog({ error, mayOverride, onRetry, onClose }) {
  const [override, setOverride] = useState(false);
  const [reason, setReason] = useState('');
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState(null);
  const submit = async () => {
    if (!override) {
      setProblem({ field: 'override', text: t('contract.cap.tickOverride') });
      return;
    }
    if (!reason.trim()) {
      setProblem({ field: 'reason', text: t('contract.cap.reasonRequired') });
      return;
    }
    setBusy(true);
    try {
      await onRetry({ override: true, reason: reason.trim() });
    } catch (e) {
      setProblem({ field: e.field === 'reason' ? 'reason' : null, text: errorText(e) });
      setBusy(false);
    }
  };
  const basis = error.details?.basis;
  const message = html`<p class="notice notice-warning" role="alert" data-testid="contract-cap-message">${errorText(error)}</p>
    ${basis && html`<p class="muted" data-testid="contract-cap-basis">${t(`contract.cap.basis.${basis}`)}</p>`}`;
  if (!mayOverride) {
    return html`<${Dialog} title=${t('contract.cap.title')} onClose=${onClose} testid="contract-cap"
      footer=${html`<button type="button" class="btn btn-primary" onClick=${onClose} data-testid="contract-cap-close">${t('common.close')}</button>`}>
      ${message}
      <p class="muted">${t('contract.cap.askManager')}</p>
    <//>`;
  }
  return html`<${FormDialog} title=${t('contract.cap.title')} onClose=${onClose} onSubmit=${submit} busy=${busy}
    testid="contract-cap" submitLabel=${t('contract.cap.submit')} danger=${true}
    error=${problem && !problem.field ? problem.text : null}>
    ${message}
    <div class=${`field${problem?.field === 'override' ? ' has-error' : ''}`}>
      <${Checkbox} id="contract-cap-override" label=${t('contract.cap.override')} note=${t('contract.cap.overrideNote')}
        checked=${override} onChange=${setOverride} testid="contract-cap-override" />
      ${problem?.field === 'override' && html`<div class="field-error" role="alert">${problem.text}</div>`}
    </div>
    <${Field} id="contract-cap-reason" label=${t('contract.cap.reason')} value=${reason} onInput=${setReason}
      maxLength=${200} testid="contract-cap-reason" error=${problem?.field === 'reason' ? problem.text : null} />
  <//>`;
}

export function ContractsCard({ deal }) {
  const [items, setItems] = useState(null);
  const [templates, setTemplates] = useState([]);
  const [pick, setPick] = useState('');
  const [busy, setBusy] = useState(false);
  const [viewing, setViewing] = useState(null);
  const [link, setLink] = useState(null);
  const [voiding, setVoiding] = useState(null);
  // { error, retry(extra) }: a deal_cost_over_cap refusal and how to retry with an override.
  const [capped, setCapped] = useState(null);
  const mayEdit = can('deal.edit');
  const base = `/api/v1/deals/${encodeURIComponent(deal.id)}/contracts`;
  const load = async () => {
    try {
      setItems((await api('GET', base)).items);
    } catch (e) {
      toast(errorText(e), { tone: 'error' });
      setItems([]);
    }
  };
  useEffect(() => { load(); }, [deal.id]);
  useEffect(() => {
    if (!mayEdit) return;
    api('GET', '/api/v1/contract-templates').then((r) => {
      const active = r.items.filter((x) => x.active);
      setTemplates(active);
      if (active.length) setPick(active[0].id);
    }).catch(() => setTemplates([]));
  }, []);

  // `attempt(extra)` is the request (extra: a manager's override); refused above the cost cap,
  // the refusal opens the override dialog, which retries through the same function.
  const run = async (fn, attempt) => {
    setBusy(true);
    try {
      await fn();
    } catch (e) {
      if (attempt && e.code === 'deal_cost_over_cap') {
        setCapped({ error: e, retry: async (extra) => { await attempt(extra); setCapped(null); } });
      } else {
        toast(errorText(e), { tone: 'error' });
      }
    }
    setBusy(false);
  };
  const generateWith = async (extra = {}) => {
    await api('POST', base, { template_id: pick, ...extra });
    toast(t('contract.generated'));
    await load();
  };
  const generate = () => run(() => generateWith(), generateWith);
  const issueWith = (c) => async (extra) => {
    const path = `/api/v1/contracts/${encodeURIComponent(c.id)}/link`;
    setLink(await (extra ? api('POST', path, extra) : api('POST', path)));
    await load();
  };
  const issue = (c) => run(() => issueWith(c)(), issueWith(c));
  const verify = (c) => run(async () => {
    const v = await api('GET', `/api/v1/contracts/${encodeURIComponent(c.id)}/verify`);
    toast(v.ok ? t('contract.verify.ok') : t('contract.verify.bad', { reason: v.reason || '' }), { tone: v.ok ? 'success' : 'error' });
  });

  return html`<div class="card" data-testid="deal-contracts">
    <h2 class="card-title">${t('contract.card')}</h2>
    ${mayEdit && html`<div class="contract-generate">
      ${templates.length
        ? html`<${SelectField} id="contract-template" label=${t('contract.template')} value=${pick} onChange=${setPick}
            options=${templates.map((x) => ({ value: x.id, label: `${x.name} · ${t('contract.version', { version: x.version })}` }))}
            testid="contract-template" />
          <button type="button" class="btn btn-primary" disabled=${busy || !pick} onClick=${generate} data-testid="contract-generate">${t('contract.generate')}</button>`
        : html`<p class="muted">${t('contract.noTemplates')}</p>`}
    </div>`}
    ${items === null ? html`<p class="muted">${t('common.loading')}</p>`
      : items.length === 0 ? html`<p class="muted" data-testid="contracts-empty">${t('contract.empty')}</p>`
      : html`<ul class="contract-list">${items.map((c) => html`<li key=${c.id} class="contract-item" data-testid="contract-item">
          <div class="contract-head">
            <strong>${c.title}</strong> <${ContractStateBadge} state=${c.state} />
          </div>
          <div class="muted">${t('contract.version', { version: c.template_version })} · ${formatDateTime(c.created_at, { seconds: false })}
            ${c.link && html` · ${t('contract.link.until', { at: formatDateTime(c.link.expires_at, { seconds: false }) })}`}
            ${c.signed && html` · ${t('contract.signedOn', { at: formatDateTime(c.signed.at, { seconds: false }) })}`}
            ${c.void_reason && html` · ${c.void_reason}`}</div>
          ${c.erasure_note && html`<p class="notice notice-warning" data-testid="contract-erasure">${t(c.state === 'signed' ? 'contract.erasure.retained' : 'contract.erasure.erased')}</p>`}
          <div class="contract-actions">
            <button type="button" class="btn" onClick=${() => setViewing(c)} data-testid="contract-view-btn">${t('contract.view')}</button>
            ${mayEdit && (c.state === 'draft' || c.state === 'sent') && html`
              <button type="button" class="btn" disabled=${busy} onClick=${() => issue(c)} data-testid="contract-link-btn">${c.state === 'sent' ? t('contract.link.reissue') : t('contract.link.issue')}</button>
              <button type="button" class="btn" disabled=${busy} onClick=${() => setVoiding(c)} data-testid="contract-void-btn">${t('contract.void.title')}</button>`}
            <button type="button" class="btn" disabled=${busy} onClick=${() => verify(c)} data-testid="contract-verify-btn">${t('contract.verify')}</button>
            <a class="btn" href=${`/api/v1/contracts/${encodeURIComponent(c.id)}/pdf`} download data-testid="contract-pdf">${t('contract.pdf')}</a>
          </div>
        </li>`)}</ul>`}
    ${viewing && html`<${ViewDialog} c=${viewing} onClose=${() => setViewing(null)} />`}
    ${link && html`<${LinkDialog} link=${link} onClose=${() => setLink(null)} />`}
    ${capped && html`<${CostCapDialog} error=${capped.error} mayOverride=${deal.may_override}
      onRetry=${capped.retry} onClose=${() => setCapped(null)} />`}
    ${voiding && html`<${VoidDialog} c=${voiding} onClose=${() => setVoiding(null)}
      onDone=${() => { setVoiding(null); toast(t('contract.void.done')); load(); }} />`}
  </div>`;
}
