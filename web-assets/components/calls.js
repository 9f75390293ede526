// Calls on the customer page: the calls the PBX reported (numbers masked), each recording
// played in place (<audio>, ranged requests so seeking works; every play is audited by the
// server), and the click-to-call button, shown disabled with the reason when not configured.
import { useEffect, useState } from '../vendor/preact/hooks.module.js';
import { html } from '../html.js';
import { t } from '../i18n/index.js';
import { api } from '../api.js';
import { session } from '../auth.js';
import { formatDateTime, todayIso } from '../format.js';
import { errorText } from '../errors.js';
import { LoadError, Loading } from './states.js';
import { Icon } from './icons.js';
import { toast } from './toast.js';
import { FormDialog } from './dialog.js';
import { Field } from './field.js';

/** Talk time as minutes and seconds, in the current locale. */
export function talkText(secs) {
  const m = Math.floor(secs / 60);
  const s = secs % 60;
  return m > 0 ? t('calls.talk.minutes', { m, s: String(s).padStart(2, '0') }) : t('calls.talk.seconds', { s });
}

function CallRow({ call }) {
  const number = call.direction === 'in' ? call.from : call.to;
  return html`<li class="call-row" data-testid="customer-call">
    <div class="call-head">
      <span class=${`badge badge-${call.result === 'answered' ? 'success' : 'muted'}`}>${t(`calls.result.${call.result}`)}</span>
      <span>${t(`calls.direction.${call.direction}`)}</span>
      <span class="mono">${number}</span>
      <span class="muted">${formatDateTime(call.started_at, { seconds: false })}</span>
      ${call.result === 'answered' && html`<span class="mono-num">${talkText(call.talk_seconds)}</span>`}
      ${call.user_name && html`<span class="muted">${call.user_name}</span>`}
    </div>
    ${call.recording && html`<audio controls preload="metadata" class="call-audio" data-testid="call-audio"
      src=${`/api/v1/calls/${encodeURIComponent(call.id)}/recording`}
      aria-label=${t('calls.recording')}></audio>`}
  </li>`;
}

export function CustomerCallsCard({ customer }) {
  const [state, setState] = useState({ status: 'loading' });
  const [config, setConfig] = useState(null);
  const load = () => api('GET', `/api/v1/customers/${encodeURIComponent(customer.id)}/calls`)
    .then((r) => setState({ status: 'ready', items: r.items }))
    .catch((error) => setState({ status: 'error', error }));
  useEffect(() => { load(); }, [customer.id]);
  useEffect(() => {
    api('GET', '/api/v1/calls/config').then(setConfig).catch(() => setConfig({ click_to_call: false }));
  }, []);
  const enabled = !!(config && config.click_to_call);
  // Only the administrator can switch it on (the configuration file): others are told whom to ask.
  const offText = session.value?.roles?.includes('admin') ? t('calls.clickToCall.off') : t('calls.clickToCall.offStaff');
  const [dialing, setDialing] = useState(false);
  const dial = async () => {
    setDialing(true);
    try {
      const r = await api('POST', `/api/v1/customers/${encodeURIComponent(customer.id)}/call`, {});
      toast(t('calls.clickToCall.done', { number: r.number, extension: r.extension }));
    } catch (error) {
      toast(errorText(error), { tone: 'error' });
    } finally {
      setDialing(false);
    }
  };
  return html`<div class="card" data-testid="customer-calls">
    <div class="card-head card-head-row">
      <h2 class="card-title">${t('calls.title')}</h2>
      <button type="button" class="btn btn-sm" disabled=${!enabled || dialing} onClick=${dial} data-testid="click-to-call"
        title=${enabled ? t('calls.clickToCall.hint') : offText}>
        <${Icon} name="phone" size=${16} /><span>${t('calls.clickToCall.button')}</span></button>
    </div>
    ${!enabled && config && html`<p class="cell-sub" data-testid="click-to-call-off">${offText}</p>`}
    ${state.status === 'loading' && html`<${Loading} testid="calls-loading" />`}
    ${state.status === 'error' && html`<${LoadError} error=${state.error} onRetry=${load} testid="calls-error" />`}
    ${state.status === 'ready' && state.items.length === 0 && html`<p class="muted" data-testid="calls-empty">${t('calls.empty')}</p>`}
    ${state.status === 'ready' && state.items.length > 0 && html`<ul class="call-list">
      ${state.items.map((c) => html`<${CallRow} key=${c.id} call=${c} />`)}
    </ul>`}
  </div>`;
}

/** Today's calls per user in my scope (the dashboard): shown once the PBX has reported calls. */
export function CallStatsCard() {
  const [state, setState] = useState({ status: 'loading' });
  const day = todayIso();
  const load = () => api('GET', `/api/v1/reports/calls?from=${day}&to=${day}`)
    .then((r) => setState({ status: 'ready', rows: r.users }))
    .catch((error) => setState({ status: 'error', error }));
  useEffect(() => { load(); }, []);
  if (state.status === 'loading' || (state.status === 'ready' && state.rows.length === 0)) return null;
  const body = state.status === 'error'
    ? html`<${LoadError} error=${state.error} onRetry=${load} testid="call-stats-error" />`
    : html`<div class="table-wrap"><table class="table" data-testid="call-stats">
      <thead><tr>
        <th scope="col">${t('team.member')}</th>
        <th scope="col" class="num">${t('calls.stats.calls')}</th>
        <th scope="col" class="num">${t('calls.stats.answeredRate')}</th>
        <th scope="col" class="num">${t('calls.stats.talk')}</th>
        <th scope="col" class="num">${t('calls.stats.avgTalk')}</th>
        <th scope="col" class="num">${t('calls.stats.reached')}</th>
      </tr></thead>
      <tbody>${state.rows.map((r) => html`<tr key=${r.user_id} data-testid="call-stats-row">
        <td class="nowrap">${r.display_name}</td>
        <td class="num">${r.calls}</td>
        <td class="num">${(r.answered_rate_bp / 100).toFixed(1)}%</td>
        <td class="num">${talkText(r.talk_seconds)}</td>
        <td class="num">${talkText(r.avg_talk_seconds)}</td>
        <td class="num">${r.customers_reached}</td>
      </tr>`)}</tbody>
    </table></div>`;
  return html`<section class="todos" aria-labelledby="call-stats-title" data-testid="call-stats-card">
    <h2 class="section-title" id="call-stats-title">${t('calls.stats.title')}</h2>
    <div class="card card-flush">${body}</div>
  </section>`;
}

/** My own call figures this month (the account page): calls, answered rate, talk time, average talk and
 *  customers reached, from the same counters as the reports. */
export function MyCallStats({ userId }) {
  const [state, setState] = useState({ status: 'loading' });
  const day = todayIso();
  const load = () => api('GET', `/api/v1/reports/calls?from=${day.slice(0, 8)}01&to=${day}`)
    .then((r) => setState({ status: 'ready', row: r.users.find((u) => u.user_id === userId) || null }))
    .catch((error) => setState({ status: 'error', error }));
  useEffect(() => { load(); }, [userId]);
  let body;
  if (state.status === 'loading') body = html`<${Loading} testid="my-calls-loading" />`;
  else if (state.status === 'error') body = html`<${LoadError} error=${state.error} onRetry=${load} testid="my-calls-error" />`;
  else if (!state.row) body = html`<p class="muted" data-testid="my-calls-empty">${t('calls.mine.empty')}</p>`;
  else {
    const r = state.row;
    body = html`<dl class="desc-list" data-testid="my-calls">
      <dt>${t('calls.stats.calls')}</dt><dd data-testid="my-calls-count">${r.calls}</dd>
      <dt>${t('calls.stats.answeredRate')}</dt><dd>${(r.answered_rate_bp / 100).toFixed(1)}%</dd>
      <dt>${t('calls.stats.talk')}</dt><dd>${talkText(r.talk_seconds)}</dd>
      <dt>${t('calls.stats.avgTalk')}</dt><dd>${talkText(r.avg_talk_seconds)}</dd>
      <dt>${t('calls.stats.reached')}</dt><dd>${r.customers_reached}</dd>
    </dl>`;
  }
  return html`<div class="card" data-testid="my-calls-card">
    <h2 class="card-title">${t('calls.mine.title')}</h2>
    ${body}
  </div>`;
}

/** Attach a waiting call: search a customer (name, phone) among those I see, pick one. */
function AttachDialog({ call, onClose, onDone }) {
  const [q, setQ] = useState('');
  const [found, setFound] = useState([]);
  const [picked, setPicked] = useState(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  useEffect(() => {
    const text = q.trim();
    if (!text) { setFound([]); return undefined; }
    let live = true;
    const timer = setTimeout(() => {
      api('GET', `/api/v1/search?limit=8&facets=false&q=${encodeURIComponent(text)}`)
        .then((page) => { if (live) setFound(page.items.map((i) => i.customer)); })
        .catch((e) => { if (live) setError(errorText(e)); });
    }, 250);
    return () => { live = false; clearTimeout(timer); };
  }, [q]);
  const submit = async () => {
    if (!picked) { setError(t('calls.attach.pick')); return; }
    setBusy(true);
    setError(null);
    try {
      await api('POST', `/api/v1/calls/${encodeURIComponent(call.id)}/attach`, { customer_id: picked.id });
      onDone(picked);
    } catch (e) {
      setBusy(false);
      setError(errorText(e));
    }
  };
  return html`<${FormDialog} title=${t('calls.attach.title')} onClose=${onClose} onSubmit=${submit} busy=${busy}
    error=${error} testid="call-attach" submitLabel=${t('calls.attach.submit')}>
    <p class="muted">${t(`calls.direction.${call.direction}`)} · <span class="mono">${call.direction === 'in' ? call.from : call.to}</span>
      · ${formatDateTime(call.started_at, { seconds: false })}</p>
    <${Field} id="call-attach-q" label=${t('calls.attach.search')} value=${q} onInput=${setQ} required=${false}
      autocomplete="off" testid="call-attach-q" />
    <ul class="call-list" role="listbox" aria-label=${t('calls.attach.search')}>
      ${found.map((c) => html`<li key=${c.id}>
        <button type="button" class=${`btn btn-sm ${picked && picked.id === c.id ? 'btn-primary' : ''}`}
          aria-pressed=${!!(picked && picked.id === c.id)} onClick=${() => setPicked(c)} data-testid="call-attach-option">
          ${c.name} · <span class="mono">${c.phone}</span></button>
      </li>`)}
    </ul>
  <//>`;
}

/** Calls no customer matched, waiting for a manager or admin to attach them (the dashboard;
 *  `customer.assign`); hidden when none wait. */
export function UnmatchedCallsCard() {
  const [state, setState] = useState({ status: 'loading' });
  const [attaching, setAttaching] = useState(null);
  const load = () => api('GET', '/api/v1/calls/unmatched')
    .then((r) => setState({ status: 'ready', items: r.items, total: r.total }))
    .catch((error) => setState({ status: 'error', error }));
  useEffect(() => { load(); }, []);
  if (state.status === 'loading' || (state.status === 'ready' && state.total === 0)) return null;
  return html`<section class="todos" aria-labelledby="unmatched-calls-title" data-testid="unmatched-calls">
    <h2 class="section-title" id="unmatched-calls-title">${t('calls.unmatched.title', { count: state.total ?? 0 })}</h2>
    <div class="card">
      ${state.status === 'error' && html`<${LoadError} error=${state.error} onRetry=${load} testid="unmatched-calls-error" />`}
      ${state.status === 'ready' && html`<ul class="call-list">
        ${state.items.map((c) => html`<li key=${c.id} class="call-head" data-testid="unmatched-call">
          <span>${t(`calls.direction.${c.direction}`)}</span>
          <span class="mono">${c.direction === 'in' ? c.from : c.to}</span>
          <span class="muted">${formatDateTime(c.started_at, { seconds: false })}</span>
          <span>${t(`calls.result.${c.result}`)}</span>
          ${c.user_name && html`<span class="muted">${c.user_name}</span>`}
          <button type="button" class="btn btn-sm" onClick=${() => setAttaching(c)} data-testid="unmatched-call-attach">
            ${t('calls.attach.button')}</button>
        </li>`)}
      </ul>`}
    </div>
    ${attaching && html`<${AttachDialog} call=${attaching} onClose=${() => setAttaching(null)}
      onDone=${(c) => { setAttaching(null); toast(t('calls.attach.done', { name: c.name })); load(); }} />`}
  </section>`;
}
