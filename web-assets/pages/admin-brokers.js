// Brokers (/admin/brokers, user.manage): the firm's broker accounts with their channel,
// company and referral count; create one (a user with the broker role alone, tied to a
// channel) and disable or enable it (the session ends at once). Brokers sign in to their own
// portal (pages/broker.js) and reach nothing else.
import { useEffect, useState } from '../vendor/preact/hooks.module.js';
import { html } from '../html.js';
import { t } from '../i18n/index.js';
import { api } from '../api.js';
import { placeError, errorText } from '../errors.js';
import { Field } from '../components/field.js';
import { ConfirmDialog, FormDialog } from '../components/dialog.js';
import { EmptyState, LoadError, Loading } from '../components/states.js';
import { toast } from '../components/toast.js';

// Fields whose error shows under the field; any other error shows under the form.
const SHOWN = ['username', 'display_name', 'password', 'phone', 'broker.channel_id', 'broker.company'];

function NewBrokerDialog({ channels, onClose, onDone }) {
  const [f, setF] = useState({
    username: '', display_name: '', phone: '', company: '', password: '',
    channel_id: channels[0] ? channels[0].id : '',
  });
  const [busy, setBusy] = useState(false);
  const [err, setErr] = useState({ field: null, text: '' });
  const set = (k) => (v) => setF({ ...f, [k]: v });
  const submit = async () => {
    setBusy(true);
    try {
      await api('POST', '/api/v1/users', {
        username: f.username, display_name: f.display_name, password: f.password,
        phone: f.phone || null, roles: ['broker'],
        broker: { channel_id: f.channel_id, company: f.company },
      });
      toast(t('brokers.created'));
      onDone();
    } catch (error) {
      setErr(placeError(error, SHOWN));
    } finally {
      setBusy(false);
    }
  };
  const e = (k) => (err.field === k ? err.text : null);
  return html`<${FormDialog} title=${t('brokers.new')} onClose=${onClose} onSubmit=${submit} busy=${busy}
    testid="broker-dialog" error=${SHOWN.includes(err.field) ? null : err.text}>
    <${Field} id="broker-username" label=${t('brokers.username')} value=${f.username} onInput=${set('username')}
      error=${e('username')} testid="broker-username" autocomplete="off" maxLength=${32} />
    <${Field} id="broker-name" label=${t('brokers.displayName')} value=${f.display_name} onInput=${set('display_name')}
      error=${e('display_name')} testid="broker-name" maxLength=${64} />
    <${Field} id="broker-phone" label=${t('brokers.phone')} value=${f.phone} onInput=${set('phone')} type="tel"
      required=${false} error=${e('phone')} testid="broker-phone" maxLength=${20} />
    <${Field} id="broker-company" label=${t('brokers.company')} value=${f.company} onInput=${set('company')}
      required=${false} error=${e('broker.company')} testid="broker-company" maxLength=${64} />
    <div class="field"><label class="field-label" for="broker-channel">${t('brokers.channel')}</label>
      <select class="input select" id="broker-channel" value=${f.channel_id} data-testid="broker-channel"
        onChange=${(ev) => setF({ ...f, channel_id: ev.currentTarget.value })}>
        ${channels.map((c) => html`<option key=${c.id} value=${c.id}>${c.name}</option>`)}
      </select>
      ${e('broker.channel_id') && html`<div class="field-error" role="alert">${e('broker.channel_id')}</div>`}</div>
    <${Field} id="broker-password" label=${t('brokers.password')} value=${f.password} onInput=${set('password')}
      type="password" autocomplete="new-password" error=${e('password')} testid="broker-password" />
  <//>`;
}

export function AdminBrokersPage() {
  const [state, setState] = useState({ status: 'loading' });
  const [creating, setCreating] = useState(false);
  const [toggling, setToggling] = useState(null);
  const [busy, setBusy] = useState(false);
  const [confirmError, setConfirmError] = useState(null);
  const load = async () => {
    setState({ status: 'loading' });
    try {
      const [brokers, channels] = await Promise.all([
        api('GET', '/api/v1/brokers'),
        api('GET', '/api/v1/channels').then((c) => c.items.filter((x) => x.active)).catch(() => []),
      ]);
      setState({ status: 'ready', brokers, channels });
    } catch (error) {
      setState({ status: 'error', error });
    }
  };
  useEffect(() => { load(); }, []);
  const setStatus = async (b, status) => {
    setBusy(true);
    setConfirmError(null);
    try {
      await api('PATCH', `/api/v1/users/${b.id}`, { status });
      toast(t('brokers.saved'));
      setToggling(null);
      load();
    } catch (error) {
      setConfirmError(errorText(error));
    } finally {
      setBusy(false);
    }
  };
  const { brokers, channels } = state;
  return html`<section class="page" data-testid="page-admin-brokers">
    <header class="page-header"><h1 class="page-title">${t('brokers.title')}</h1>
      <p class="page-subtitle">${t('brokers.lead')}</p>
      ${state.status === 'ready' && channels.length > 0 && html`<button type="button" class="btn btn-primary"
        data-testid="broker-new" onClick=${() => setCreating(true)}>${t('brokers.new')}</button>`}</header>
    ${state.status === 'loading' ? html`<${Loading} />`
      : state.status === 'error' ? html`<${LoadError} error=${state.error} onRetry=${load} />`
      : html`
        ${channels.length === 0 && html`<div class="notice notice-info" data-testid="broker-no-channel">${t('brokers.noChannel')}</div>`}
        ${brokers.length === 0
          ? html`<${EmptyState} title=${t('brokers.emptyTitle')} body=${t('brokers.emptyBody')} testid="brokers-empty" />`
          : html`<div class="card card-flush"><div class="table-wrap"><table class="table" data-testid="broker-table">
            <thead><tr><th>${t('brokers.displayName')}</th><th>${t('brokers.username')}</th><th>${t('brokers.phone')}</th>
              <th>${t('brokers.company')}</th><th>${t('brokers.channel')}</th><th>${t('brokers.referrals')}</th>
              <th>${t('brokers.status')}</th><th></th></tr></thead>
            <tbody>${brokers.map((b) => html`<tr key=${b.id} data-testid="broker-row" data-username=${b.username}>
              <td>${b.display_name}</td><td>${b.username}</td><td>${b.phone || '—'}</td><td>${b.company || '—'}</td>
              <td>${b.channel_name || '—'}</td><td>${b.referrals}</td>
              <td>${b.status === 'active'
                ? html`<span class="badge badge-success">${t('brokers.active')}</span>`
                : html`<span class="badge badge-muted">${t('brokers.disabled')}</span>`}</td>
              <td>${b.status === 'active'
                ? html`<button type="button" class="btn btn-sm" data-testid="broker-disable" onClick=${() => setToggling(b)}>${t('brokers.disable')}</button>`
                : html`<button type="button" class="btn btn-sm" data-testid="broker-enable" disabled=${busy} onClick=${() => setStatus(b, 'active')}>${t('brokers.enable')}</button>`}</td>
            </tr>`)}</tbody></table></div></div>`}`}
    ${creating && html`<${NewBrokerDialog} channels=${channels} onClose=${() => setCreating(false)}
      onDone=${() => { setCreating(false); load(); }} />`}
    ${toggling && html`<${ConfirmDialog} title=${t('brokers.disable')}
      body=${t('brokers.disableConfirm', { name: toggling.display_name })} confirmLabel=${t('brokers.disable')}
      busy=${busy} error=${confirmError} onConfirm=${() => setStatus(toggling, 'disabled')}
      onClose=${() => { setToggling(null); setConfirmError(null); }} />`}
  </section>`;
}
