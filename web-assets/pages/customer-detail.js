// /customers/:id — customer detail: profile (masked phone / ID number with a reveal
// button), demand and qualification profile (components/qualification.js), a quick follow-up box, the
// timeline (follow-ups and events, newest first), edit, transfer and delete.
import { useEffect, useState } from '../vendor/preact/hooks.module.js';
import { html } from '../html.js';
import { t } from '../i18n/index.js';
import { api } from '../api.js';
import { can, session } from '../auth.js';
import { navigate, route } from '../router.js';
import { formatDateTime } from '../format.js';
import { LoadError, Loading } from '../components/states.js';
import { Icon } from '../components/icons.js';
import { toast } from '../components/toast.js';
import { consentText, customText, loadCustomerSettings, loadDirectory } from '../components/customer-settings.js';
import { SelectField } from '../components/form.js';
import { ConfirmDialog, FormDialog } from '../components/dialog.js';
import { FormError } from '../components/field.js';
import { remindersChanged } from '../components/reminders.js';
import { LockBadge, PoolActions } from '../components/pool-actions.js';
import { useNarrow } from '../components/narrow.js';
import { assignReasonText } from '../components/assign-reasons.js';
import {
  CustomerDialog, FOLLOWUP_KINDS, STAGES, StageBadge, Stars, Tags, customerErrorText, kindLabel, orDash, stageLabel,
} from '../components/customers.js';
import { QualificationCard, QualificationDialog } from '../components/qualification.js';
import { MatchesCard } from '../components/matches.js';
import { CustomerDealsCard } from '../components/deals.js';
import { CustomerCallsCard } from '../components/calls.js';
import { NotFoundPage } from './not-found.js';

function customerIdFromPath(path) {
  const m = path.match(/^\/customers\/([^/]+)\/?$/);
  return m ? decodeURIComponent(m[1]) : null;
}

/** "2026-05-01T15:30" read as Beijing time (UTC+8, no DST) → UTC ISO string. */
export function shanghaiLocalToIso(value) {
  if (!value) return null;
  const withSeconds = value.length === 16 ? `${value}:00` : value;
  const d = new Date(`${withSeconds}+08:00`);
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString();
}

/** The current Beijing time as a datetime-local value ("2026-05-01T15:30"). */
function shanghaiNowLocal() {
  return formatDateTime(new Date(), { seconds: false }).replace(' ', 'T');
}

/** The stage in one step (no full edit dialog): a select that saves on change; the timeline
 *  shows the change at once. Sent with the version the page shows: when the record changed
 *  since, the change still goes through if the stage is the one shown (a follow-up, an edit of
 *  other fields), and is refused, saying what it is now, if someone moved the stage. */
function QuickStage({ customer: c, onSaved }) {
  const [busy, setBusy] = useState(false);
  const change = async (event) => {
    const stage = event.currentTarget.value;
    if (stage === c.stage) return;
    setBusy(true);
    const url = `/api/v1/customers/${encodeURIComponent(c.id)}`;
    try {
      let saved;
      try {
        saved = await api('PATCH', url, { stage, expected_updated_at: c.updated_at });
      } catch (error) {
        const now = error.code === 'edit_conflict' && error.details && error.details.current;
        if (!now || !now.stage) throw error;
        if (now.stage !== c.stage) {
          const by = error.details.updated_by;
          toast(by ? t('customer.stage.conflictBy', { name: by, stage: stageLabel(now.stage) })
            : t('customer.stage.conflict', { stage: stageLabel(now.stage) }), { tone: 'error' });
          onSaved(now);
          return;
        }
        saved = await api('PATCH', url, { stage, expected_updated_at: now.updated_at });
      }
      toast(t('customer.stage.saved', { stage: stageLabel(stage) }));
      onSaved(saved);
    } catch (error) {
      toast(customerErrorText(error), { tone: 'error' });
    } finally {
      setBusy(false);
    }
  };
  return html`<select class="input input-sm select stage-select" value=${c.stage} disabled=${busy} onChange=${change}
    aria-label=${t('customer.stage.change')} data-testid="customer-stage" data-stage=${c.stage}>
    ${STAGES.map((s) => html`<option value=${s.value} key=${s.value}>${t(s.labelKey)}</option>`)}
  </select>`;
}

/** The header's actions: a row of buttons, or on a phone a 'more' menu holding them. The menu's
 *  items stay mounted while it is closed (hidden, not removed) so a dialog an item opened lives on
 *  after the menu closes (dialogs sit in the top layer and show through the hidden list). */
function ActionMenu({ narrow, children }) {
  const [open, setOpen] = useState(false);
  useEffect(() => {
    if (!open) return undefined;
    const away = (e) => { if (!e.target.closest('[data-testid="customer-actions"]')) setOpen(false); };
    document.addEventListener('click', away);
    return () => document.removeEventListener('click', away);
  }, [open]);
  if (!narrow) return html`<div class="page-actions" data-testid="customer-actions">${children}</div>`;
  return html`<div class="page-actions action-menu" data-testid="customer-actions">
    <button type="button" class="btn" aria-haspopup="true" aria-expanded=${open ? 'true' : 'false'}
      onClick=${() => setOpen(!open)} data-testid="customer-actions-more">${t('customer.actions.more')} ▾</button>
    <div class=${`action-menu-list${open ? ' is-open' : ''}`} role="group" aria-label=${t('customer.actions')}
      onClick=${(e) => { if (e.target.closest('button')) setOpen(false); }}>${children}</div>
  </div>`;
}

function RevealValue({ customerId, field, masked, testid }) {
  const [state, setState] = useState({ value: null, busy: false, error: null, remaining: null });
  if (!masked) return html`<span class="muted">—</span>`;
  const reveal = async () => {
    setState((s) => ({ ...s, busy: true, error: null }));
    try {
      const r = await api('POST', `/api/v1/customers/${encodeURIComponent(customerId)}/unmask`, { field });
      setState({ value: r.value, busy: false, error: null, remaining: r.remaining_today });
    } catch (error) {
      const text = error.status === 403 ? t('customer.reveal.forbidden') : customerErrorText(error);
      setState({ value: null, busy: false, error: text, remaining: null });
    }
  };
  return html`<span class="reveal" data-testid=${testid}>
    ${state.value && field === 'phone'
      ? html`<a class="mono tel" href=${`tel:${state.value}`} data-testid=${`${testid}-value`}
          title=${t('customer.reveal.call')}><${Icon} name="phone" size=${15} />${state.value}</a>`
      : html`<span class="mono" data-testid=${`${testid}-value`}>${state.value || masked}</span>`}
    ${!state.value && html`<button type="button" class="btn btn-sm btn-text" onClick=${reveal} disabled=${state.busy}
      data-testid=${`${testid}-reveal`}><${Icon} name="eye" size=${15} />${t('customer.reveal.button')}</button>`}
    ${state.value && state.remaining != null && html`<span class="cell-sub">${t('customer.reveal.remaining', { count: state.remaining })}</span>`}
    ${state.error && html`<span class="field-error" role="alert" data-testid=${`${testid}-error`}>${state.error}</span>`}
  </span>`;
}

function ProfileCard({ c, userName }) {
  return html`<div class="card" data-testid="customer-profile">
    <h2 class="card-title">${t('customer.section.profile')}</h2>
    <dl class="desc-list">
      <dt>${t('customers.field.phone')}</dt>
      <dd><${RevealValue} customerId=${c.id} field="phone" masked=${c.phone} testid="customer-phone" /></dd>
      ${c.extra_phones?.length > 0 && html`<dt>${t('customer.extraPhones')}</dt>
        <dd class="mono">${c.extra_phones.join(t('list.separator'))}</dd>`}
      <dt>${t('customers.field.idNumber')}</dt>
      <dd><${RevealValue} customerId=${c.id} field="id_number" masked=${c.id_number} testid="customer-id-number" /></dd>
      ${c.id_number && html`<dt>${t('customers.field.genderAge')}</dt>
        <dd data-testid="customer-gender-age">${c.gender ? t(`customers.gender.${c.gender}`) : '—'} · ${t('customers.age', { n: c.age ?? '—' })}${c.birth_date ? ` · ${c.birth_date}` : ''}</dd>`}
      <dt>${t('customers.field.city')}</dt><dd>${orDash(c.city)}</dd>
      <dt>${t('customers.field.company')}</dt><dd>${orDash(c.company)}</dd>
      <dt>${t('customers.field.notes')}</dt><dd class="notes" data-testid="customer-notes">${orDash(c.notes)}</dd>
      <dt>${t('customers.field.channel')}</dt><dd>${orDash(c.channel)}</dd>
      <dt>${t('customers.field.grade')}</dt><dd>${orDash(c.grade)}</dd>
      <dt>${t('customers.field.stars')}</dt><dd><${Stars} value=${c.stars} /></dd>
      <dt>${t('customers.field.tags')}</dt><dd data-testid="customer-tags"><${Tags} tags=${c.tags} /></dd>
      <dt>${t('customer.owner')}</dt><dd data-testid="customer-owner">${c.owner_id ? userName(c.owner_id) : t('customers.pool')}</dd>
      <dt>${t('customers.field.nextFollowup')}</dt><dd data-testid="customer-next">${formatDateTime(c.next_followup_at, { seconds: false })}</dd>
      <dt>${t('customer.lastFollowup')}</dt><dd>${formatDateTime(c.last_followup_at, { seconds: false })}</dd>
      <dt>${t('common.createdAt')}</dt><dd>${formatDateTime(c.created_at, { seconds: false })}</dd>
      ${c.entered_at && html`<dt>${t('customer.enteredAt')}</dt>
        <dd data-testid="customer-entered-at">${formatDateTime(c.entered_at, { seconds: false })}</dd>`}
    </dl>
  </div>`;
}

function ExtraCard({ c, fields }) {
  const shown = fields.filter((d) => d.active || (c.custom && d.key in c.custom));
  return html`<div class="card" data-testid="customer-extra">
    ${shown.length > 0 && html`<h2 class="card-title">${t('cx.custom.section')}</h2>
      <dl class="desc-list" data-testid="customer-custom">
        ${shown.map((d) => html`<dt key=${`t-${d.key}`}>${d.label}</dt>
          <dd key=${`d-${d.key}`} data-testid=${`customer-custom-${d.key}`}>${customText(d, (c.custom || {})[d.key])}</dd>`)}
      </dl>`}
    <h2 class=${`card-title${shown.length ? ' section-gap' : ''}`}>${t('cx.consent.section')}</h2>
    <dl class="desc-list">
      <dt>${t('cx.consent.record')}</dt><dd data-testid="customer-consent">${consentText(c.consent)}</dd>
      ${c.consent && html`<dt>${t('cx.consent.at')}</dt><dd>${formatDateTime(c.consent.at, { seconds: false })}</dd>`}
    </dl>
  </div>`;
}

const EMPTY_FOLLOWUP = { kind: 'call', content: '', outcome: '', next: '' };

function FollowupBox({ customerId, onLogged }) {
  const [values, setValues] = useState(EMPTY_FOLLOWUP);
  const [errors, setErrors] = useState({});
  const [formError, setFormError] = useState(null);
  const [busy, setBusy] = useState(false);
  const set = (name) => (value) => {
    setValues((v) => ({ ...v, [name]: value }));
    setErrors((e) => ({ ...e, [name]: null }));
  };
  const submit = async (event) => {
    event.preventDefault();
    setFormError(null);
    const found = {};
    const content = values.content.trim();
    if (!content) found.content = t('followup.error.contentRequired');
    else if (Array.from(content).length > 2000) found.content = t('followup.error.content');
    if (Array.from(values.outcome.trim()).length > 64) found.outcome = t('followup.error.outcome');
    const nextAt = shanghaiLocalToIso(values.next);
    if (nextAt === undefined) found.next = t('followup.error.next_at');
    setErrors(found);
    if (Object.keys(found).length) return;
    setBusy(true);
    try {
      await api('POST', `/api/v1/customers/${encodeURIComponent(customerId)}/followups`, {
        kind: values.kind,
        content,
        outcome: values.outcome.trim() || null,
        next_at: nextAt,
      });
      setBusy(false);
      setValues({ ...EMPTY_FOLLOWUP, kind: values.kind });
      toast(t('followup.logged'));
      remindersChanged();
      onLogged();
    } catch (error) {
      setBusy(false);
      const field = { content: 'content', outcome: 'outcome', next_at: 'next' }[error.field];
      if (error.code === 'validation' && field) setErrors({ [field]: customerErrorText(error) });
      else setFormError(customerErrorText(error));
    }
  };
  return html`<form class="card followup-box" onSubmit=${submit} novalidate data-testid="followup-form">
    <h2 class="card-title">${t('followup.title')}</h2>
    <div class="kind-switch" role="radiogroup" aria-label=${t('followup.kind')}>
      ${FOLLOWUP_KINDS.map((k) => html`<label key=${k.value} class=${`kind-option${values.kind === k.value ? ' is-active' : ''}`}
        data-testid=${`followup-kind-${k.value}`}>
        <input type="radio" name="followup-kind" value=${k.value} checked=${values.kind === k.value}
          onChange=${() => set('kind')(k.value)} />
        <span>${t(k.labelKey)}</span>
      </label>`)}
    </div>
    <div class=${`field${errors.content ? ' has-error' : ''}`}>
      <label class="field-label" for="followup-content">${t('followup.content')}</label>
      <textarea class="input textarea" id="followup-content" rows="3" value=${values.content}
        placeholder=${t('followup.contentPlaceholder')} maxlength="2000"
        onInput=${(e) => set('content')(e.currentTarget.value)} aria-invalid=${errors.content ? 'true' : 'false'}
        aria-describedby=${errors.content ? 'followup-content-error' : undefined} data-testid="followup-content"></textarea>
      ${errors.content && html`<div class="field-error" id="followup-content-error" role="alert" data-testid="followup-content-error">${errors.content}</div>`}
    </div>
    <div class="form-grid form-grid-2">
      <div class=${`field${errors.outcome ? ' has-error' : ''}`}>
        <label class="field-label" for="followup-outcome">${t('followup.outcome')}</label>
        <input class="input" id="followup-outcome" value=${values.outcome} maxlength="64"
          placeholder=${t('followup.outcomePlaceholder')}
          onInput=${(e) => set('outcome')(e.currentTarget.value)} data-testid="followup-outcome" />
        ${errors.outcome && html`<div class="field-error" role="alert">${errors.outcome}</div>`}
      </div>
      <div class=${`field${errors.next ? ' has-error' : ''}`}>
        <label class="field-label" for="followup-next">${t('followup.next')}</label>
        <input class="input" type="datetime-local" id="followup-next" value=${values.next} min=${shanghaiNowLocal()}
          onInput=${(e) => set('next')(e.currentTarget.value)} data-testid="followup-next"
          aria-describedby="followup-next-hint" />
        ${errors.next
          ? html`<div class="field-error" role="alert" data-testid="followup-next-error">${errors.next}</div>`
          : html`<div class="field-hint" id="followup-next-hint">${t('followup.nextHint')}</div>`}
      </div>
    </div>
    <${FormError} text=${formError} testid="followup-error" />
    <div class="form-actions">
      <button type="submit" class="btn btn-primary" disabled=${busy} data-testid="followup-submit">
        ${busy ? t('common.saving') : t('followup.submit')}</button>
    </div>
  </form>`;
}

function eventText(e, userName) {
  switch (e.kind) {
    case 'created':
      return e.note ? t('timeline.createdVia', { channel: e.note }) : t('timeline.created');
    case 'transferred':
      return t('timeline.transferred', { from: e.from ? userName(e.from) : t('customers.pool'), to: e.to ? userName(e.to) : t('customers.pool') });
    case 'inherited':
      return t('timeline.inherited', { from: e.from ? userName(e.from) : t('customers.pool'), to: e.to ? userName(e.to) : t('customers.pool') });
    case 'stage_changed':
      return t('timeline.stageChanged', { from: e.from ? t(`stage.${e.from}`) : '—', to: e.to ? t(`stage.${e.to}`) : '—' });
    case 'applied':
      return t('timeline.applied', { form: e.note || '—' });
    case 'referred':
      return t('timeline.referred', { note: e.note || '—' });
    case 'claimed':
      return t('timeline.claimed', { to: e.to ? userName(e.to) : '—' });
    case 'released':
      return t('timeline.released', { from: e.from ? userName(e.from) : '—', note: e.note || '—' });
    case 'recalled':
      return t('timeline.recalled', { from: e.from ? userName(e.from) : '—', note: e.note || '—' });
    case 'recall_warning':
    case 'warned':
      return t('timeline.recallWarning', { note: e.note || '' });
    case 'assigned':
      return e.note
        ? t('timeline.assignedWhy', { to: e.to ? userName(e.to) : '—', note: assignReasonText(e.note) })
        : t('timeline.assigned', { to: e.to ? userName(e.to) : '—' });
    case 'assign_to_pool':
      return t('timeline.assignToPool', { note: assignReasonText(e.note) || '—' });
    case 'locked':
      return t('timeline.locked');
    case 'unlocked':
      return t('timeline.unlocked');
    case 'restored':
      return t('timeline.restored');
    case 'erased':
      return t('timeline.erased');
    case 'document':
      return t('timeline.document', { name: e.from || '—', what: t(`documents.event.${e.to}`), note: e.note || '' });
    case 'call':
      return t('timeline.call', { note: e.note || '' });
    default:
      return t('timeline.other', { kind: e.kind });
  }
}

function Timeline({ state, userName, onRetry }) {
  if (state.status === 'loading') return html`<${Loading} testid="timeline-loading" />`;
  if (state.status === 'error') return html`<${LoadError} error=${state.error} onRetry=${onRetry} testid="timeline-error" />`;
  const items = [
    ...state.data.followups.map((f) => ({ type: 'followup', at: f.created_at, f })),
    ...state.data.events.map((e) => ({ type: 'event', at: e.at, e })),
  ].sort((a, b) => (a.at < b.at ? 1 : a.at > b.at ? -1 : 0));
  if (!items.length) return html`<p class="muted" data-testid="timeline-empty">${t('timeline.empty')}</p>`;
  return html`<ol class="timeline" data-testid="timeline">
    ${items.map((it) => (it.type === 'followup'
      ? html`<li key=${it.f.id} class="timeline-item timeline-followup" data-testid="timeline-followup">
          <div class="timeline-dot"></div>
          <div class="timeline-head">
            <span class="tag tag-primary">${kindLabel(it.f.kind)}</span>
            <span class="timeline-who">${userName(it.f.author_id)}</span>
            <time class="muted" datetime=${it.f.created_at}>${formatDateTime(it.f.created_at, { seconds: false })}</time>
            ${it.f.edited_at && html`<span class="muted">${t('timeline.edited')}</span>`}
          </div>
          <p class="timeline-content">${it.f.content}</p>
          ${(it.f.outcome || it.f.next_at) && html`<div class="timeline-meta">
            ${it.f.outcome && html`<span>${t('followup.outcome')}${t('list.colon')}${it.f.outcome}</span>`}
            ${it.f.next_at && html`<span data-testid="timeline-next">${t('followup.next')}${t('list.colon')}${formatDateTime(it.f.next_at, { seconds: false })}</span>`}
          </div>`}
        </li>`
      : html`<li key=${it.e.id} class="timeline-item timeline-event" data-testid="timeline-event" data-kind=${it.e.kind}>
          <div class="timeline-dot"></div>
          <div class="timeline-head">
            <span>${eventText(it.e, userName)}</span>
            <span class="timeline-who">${userName(it.e.actor_id)}</span>
            <time class="muted" datetime=${it.e.at}>${formatDateTime(it.e.at, { seconds: false })}</time>
          </div>
        </li>`))}
  </ol>`;
}

function TransferDialog({ customer, users, onClose, onDone }) {
  // Only colleagues the server will accept (active, in my data scope, able to work customers),
  // and nobody chosen beforehand.
  const options = users.filter((u) => u.may_receive && u.id !== customer.owner_id);
  const [to, setTo] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const submit = async () => {
    if (!to) {
      setError(t('customer.transfer.pick'));
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const c = await api('POST', `/api/v1/customers/${encodeURIComponent(customer.id)}/transfer`, { to_user: to });
      onDone(c, options.find((u) => u.id === to));
    } catch (e) {
      setBusy(false);
      setError(customerErrorText(e));
    }
  };
  return html`<${FormDialog} title=${t('customer.transfer.title', { name: customer.name })} onClose=${onClose}
    onSubmit=${submit} busy=${busy} testid="transfer-dialog" submitLabel=${t('customer.transfer.submit')} error=${error}>
    ${options.length
      ? html`<${SelectField} id="transfer-to" label=${t('customer.transfer.to')} value=${to} onChange=${setTo} testid="transfer-to"
          options=${[{ value: '', label: t('cx.depart.pick') },
            ...options.map((u) => ({ value: u.id, label: u.username ? `${u.display_name} (${u.username})` : u.display_name }))]} />`
      : html`<p class="muted">${t('customer.transfer.nobody')}</p>`}
  <//>`;
}

export function CustomerDetailPage() {
  const id = customerIdFromPath(route.value.path);
  const [state, setState] = useState({ status: 'loading' });
  const [timeline, setTimeline] = useState({ status: 'loading' });
  const [users, setUsers] = useState(null); // null: unknown / not allowed
  const [dialog, setDialog] = useState(null); // 'edit' | 'transfer' | 'delete'
  const [del, setDel] = useState({ busy: false, error: null });

  const loadCustomer = async () => {
    try {
      const c = await api('GET', `/api/v1/customers/${encodeURIComponent(id)}`);
      setState({ status: 'ready', customer: c });
    } catch (error) {
      setState(error.status === 404 ? { status: 'not-found' } : { status: 'error', error });
    }
  };
  const loadTimeline = async () => {
    try {
      const data = await api('GET', `/api/v1/customers/${encodeURIComponent(id)}/timeline`);
      setTimeline({ status: 'ready', data });
    } catch (error) {
      setTimeline({ status: 'error', error });
    }
  };
  useEffect(() => {
    setState({ status: 'loading' });
    setTimeline({ status: 'loading' });
    if (!id) {
      setState({ status: 'not-found' });
      return;
    }
    loadCustomer();
    loadTimeline();
  }, [id]);
  const [settings, setSettings] = useState({ fields: [], groups: [] });
  useEffect(() => {
    // Every signed-in user may read the directory: owners and authors are named, not "a colleague".
    loadDirectory().then((list) => setUsers(list)).catch(() => setUsers(null));
    loadCustomerSettings().then(setSettings);
  }, []);

  const me = session.value;
  const userName = (uid) => {
    if (me && uid === me.id) return me.display_name || me.username;
    const u = users && users.find((x) => x.id === uid);
    return u ? u.display_name : t('customer.someone');
  };

  if (state.status === 'not-found') return html`<${NotFoundPage} record="customer" />`;
  if (state.status === 'loading') return html`<section class="page page-wide"><${Loading} testid="customer-loading" /></section>`;
  if (state.status === 'error') {
    return html`<section class="page page-wide"><${LoadError} error=${state.error} onRetry=${loadCustomer} testid="customer-error" /></section>`;
  }
  const c = state.customer;
  // A customer in a public pool is claimed before it is worked: its follow-ups, stage and
  // edits are refused to anyone whose scope is not the whole firm (they came back as "not found").
  const pooled = !!c.pool_id && !c.owner_id && me?.data_scope !== 'all';
  const canEdit = can('customer.edit') && !pooled;
  const canTransfer = can('customer.transfer') && Array.isArray(users);
  const canDelete = can('customer.delete');
  const narrow = useNarrow();

  const remove = async () => {
    setDel({ busy: true, error: null });
    try {
      await api('DELETE', `/api/v1/customers/${encodeURIComponent(c.id)}`);
      toast(t('customer.delete.done', { name: c.name }));
      remindersChanged();
      navigate('/customers');
    } catch (error) {
      setDel({ busy: false, error: customerErrorText(error) });
    }
  };

  return html`<section class="page page-wide" data-testid="page-customer-detail">
    <nav class="breadcrumb" aria-label=${t('customer.breadcrumb')}>
      <a href="/customers" data-testid="back-to-customers">${t('customers.title')}</a>
      <span aria-hidden="true">/</span>
      <span>${c.name}</span>
    </nav>
    <header class="page-header page-header-row">
      <div>
        <h1 class="page-title customer-title">
          <span data-testid="customer-name">${c.name}</span>
          ${canEdit
            ? html`<${QuickStage} customer=${c} onSaved=${(saved) => { setState({ status: 'ready', customer: saved }); loadTimeline(); }} />`
            : html`<${StageBadge} stage=${c.stage} />`}
          ${c.grade && html`<span class="tag tag-code">${t('customer.gradeBadge', { grade: c.grade })}</span>`}
          <${LockBadge} customer=${c} />
        </h1>
        <p class="page-subtitle">${[c.city, c.company, c.channel].filter(Boolean).join(' · ') || t('customer.noSummary')}</p>
        ${narrow && canEdit && html`<button type="button" class="btn btn-primary" data-testid="customer-write-followup"
          onClick=${() => {
            // On a phone the form is below the profile, qualification, matches, deals and
            // calls: the most frequent action gets a button at the top.
            const box = document.getElementById('followup-content');
            if (!box) return;
            box.scrollIntoView({ block: 'center' });
            box.focus({ preventScroll: true });
          }}><${Icon} name="edit" size=${16} /><span>${t('customer.writeFollowup')}</span></button>`}
      </div>
      <${ActionMenu} narrow=${narrow}>
        <${PoolActions} customer=${c} onChanged=${(saved) => { setState({ status: 'ready', customer: saved }); loadTimeline(); remindersChanged(); }} />
        ${canEdit && html`<button type="button" class="btn" onClick=${() => setDialog('edit')} data-testid="customer-edit">
          <${Icon} name="edit" size=${16} /><span>${t('common.edit')}</span></button>`}
        ${canTransfer && html`<button type="button" class="btn" onClick=${() => setDialog('transfer')} data-testid="customer-transfer">
          <${Icon} name="move" size=${16} /><span>${t('customer.transfer.button')}</span></button>`}
        ${canDelete && html`<button type="button" class="btn btn-danger-outline" onClick=${() => { setDel({ busy: false, error: null }); setDialog('delete'); }}
          data-testid="customer-delete"><${Icon} name="trash" size=${16} /><span>${t('common.delete')}</span></button>`}
      <//>
    </header>
    <div class="customer-layout">
      <div class="customer-side">
        <${ProfileCard} c=${c} userName=${userName} />
        <${ExtraCard} c=${c} fields=${settings.fields} />
        <${QualificationCard} c=${c} canEdit=${canEdit} onEdit=${() => setDialog('qualification')} />
        <${MatchesCard} customerId=${c.id} version=${c.updated_at} />
      </div>
      <div class="customer-main">
        <${CustomerDealsCard} customer=${c} onChanged=${() => { loadCustomer(); loadTimeline(); }} />
        <${CustomerCallsCard} customer=${c} />
        ${canEdit && html`<${FollowupBox} customerId=${c.id} onLogged=${() => { loadCustomer(); loadTimeline(); }} />`}
        ${pooled && html`<p class="card muted" data-testid="customer-pooled-note">${t('customer.pooledNote')}</p>`}
        <div class="card" data-testid="customer-timeline">
          <h2 class="card-title">${t('timeline.title')}</h2>
          <${Timeline} state=${timeline} userName=${userName} onRetry=${loadTimeline} />
        </div>
      </div>
    </div>
    ${dialog === 'edit' && html`<${CustomerDialog} customer=${c} onClose=${() => setDialog(null)} onDone=${(saved) => {
      setDialog(null);
      setState({ status: 'ready', customer: saved });
      toast(t('customer.edit.saved'));
      loadTimeline();
    }} />`}
    ${dialog === 'qualification' && html`<${QualificationDialog} customer=${c} onClose=${() => setDialog(null)} onDone=${(saved) => {
      setDialog(null);
      setState({ status: 'ready', customer: saved });
      toast(t('q.saved'));
    }} />`}
    ${dialog === 'transfer' && html`<${TransferDialog} customer=${c} users=${users} onClose=${() => setDialog(null)}
      onDone=${(saved, u) => {
        setDialog(null);
        setState({ status: 'ready', customer: saved });
        toast(t('customer.transfer.done', { name: u ? u.display_name : '' }));
        remindersChanged();
        loadTimeline();
      }} />`}
    ${dialog === 'delete' && html`<${ConfirmDialog} title=${t('customer.delete.title')}
      body=${t('customer.delete.body', { name: c.name })} confirmLabel=${t('customer.delete.confirm')}
      busyLabel=${t('common.deleting')} busy=${del.busy} error=${del.error}
      onConfirm=${remove} onClose=${() => setDialog(null)} />`}
  </section>`;
}
