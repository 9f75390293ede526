// /admin/pools — pool settings (capability pool.manage): create and edit pools
// (department, members, admins, claim limits, recall days by grade) and preview
// a recall sweep at a chosen date (POST /api/v1/pools/sweep?dry_run=true&as_of=…); pause
// users or weight their turns in automatic assignment.
import { useEffect, useState } from '../vendor/preact/hooks.module.js';
import { html } from '../html.js';
import { t } from '../i18n/index.js';
import { api } from '../api.js';
import { errorText } from '../errors.js';
import { Field } from '../components/field.js';
import { FormDialog, ConfirmDialog } from '../components/dialog.js';
import { EmptyState, LoadError, Loading } from '../components/states.js';
import { Icon } from '../components/icons.js';
import { toast } from '../components/toast.js';
import { formatDateTime } from '../format.js';
import { poolErrorText } from './pools.js';

const GRADE_KEYS = ['A', 'B', 'C', 'D', 'default'];
const NUMBERS = ['claim_daily_limit', 'max_owned', 'reclaim_cooldown_days', 'protect_new_hours', 'warn_days_before'];
const DEFAULTS = {
  recall_enabled: true, no_followup_days: { A: 30, B: 15, C: 10, D: 7, default: 15 }, no_signing_days: 90,
  warn_days_before: 3, claim_daily_limit: 20, max_owned: 300, max_owned_counts_won: false,
  reclaim_cooldown_days: 7, protect_new_hours: 0,
};

function toForm(p) {
  const s = { ...DEFAULTS, ...(p?.settings || {}) };
  const f = { name: p?.name || '', department_id: p?.department_id || '', members: p?.members || [], admins: p?.admins || [],
    recall_enabled: s.recall_enabled, max_owned_counts_won: s.max_owned_counts_won,
    no_signing_days: s.no_signing_days == null ? '' : String(s.no_signing_days) };
  for (const k of NUMBERS) f[k] = String(s[k]);
  for (const g of GRADE_KEYS) f[`days_${g}`] = s.no_followup_days[g] == null ? '' : String(s.no_followup_days[g]);
  return f;
}

function fromForm(f) {
  const settings = { recall_enabled: f.recall_enabled, max_owned_counts_won: f.max_owned_counts_won,
    no_signing_days: f.no_signing_days.trim() ? Number(f.no_signing_days) : null, no_followup_days: {} };
  for (const k of NUMBERS) settings[k] = Number(f[k] || 0);
  for (const g of GRADE_KEYS) if (f[`days_${g}`].trim()) settings.no_followup_days[g] = Number(f[`days_${g}`]);
  return { name: f.name.trim(), department_id: f.department_id || null, members: f.members, admins: f.admins, settings };
}

function UserPicker({ label, users, value, onChange, testid }) {
  const toggle = (id) => onChange(value.includes(id) ? value.filter((x) => x !== id) : [...value, id]);
  return html`<fieldset class="field" data-testid=${testid}>
    <legend class="field-label">${label}</legend>
    <div class="check-grid" style="--columns: 3">
      ${users.map((u) => html`<label class="check" key=${u.id}>
        <input type="checkbox" checked=${value.includes(u.id)} onChange=${() => toggle(u.id)} />
        <span>${u.display_name || u.username}</span></label>`)}
    </div>
  </fieldset>`;
}

function PoolDialog({ pool, departments, users, onClose, onSaved }) {
  const [f, setF] = useState(toForm(pool));
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const set = (k) => (v) => setF({ ...f, [k]: v });
  const onSubmit = async () => {
    if (!f.name.trim()) {
      setError(t('adminPools.nameRequired'));
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const body = fromForm(f);
      if (pool) await api('PATCH', `/api/v1/pools/${encodeURIComponent(pool.id)}`, body);
      else await api('POST', '/api/v1/pools', body);
      toast(t('adminPools.saved'));
      onSaved();
    } catch (e) {
      setBusy(false);
      setError(poolErrorText(e));
    }
  };
  return html`<${FormDialog} title=${pool ? t('adminPools.edit') : t('adminPools.create')} onClose=${onClose} onSubmit=${onSubmit}
    busy=${busy} error=${error} testid="pool-dialog" size="lg">
    <${Field} id="pool-name" label=${t('adminPools.name')} value=${f.name} onInput=${set('name')} testid="pool-name" maxLength=${32} />
    <div class="field">
      <label class="field-label" for="pool-dept">${t('adminPools.department')}</label>
      <select class="input select" id="pool-dept" value=${f.department_id} onChange=${(e) => set('department_id')(e.currentTarget.value)} data-testid="pool-dept">
        <option value="">${t('adminPools.firmWide')}</option>
        ${departments.map((d) => html`<option value=${d.id}>${d.name}</option>`)}
      </select>
    </div>
    ${users.length > 0 && html`<${UserPicker} label=${t('adminPools.members')} users=${users} value=${f.members} onChange=${set('members')} testid="pool-members" />
      <p class="field-hint">${t('adminPools.membersHint')}</p>
      <${UserPicker} label=${t('adminPools.admins')} users=${users} value=${f.admins} onChange=${set('admins')} testid="pool-admins" />`}
    <h3 class="card-title">${t('adminPools.recall')}</h3>
    <label class="check"><input type="checkbox" checked=${f.recall_enabled} onChange=${(e) => set('recall_enabled')(e.currentTarget.checked)} data-testid="pool-recall-enabled" />
      <span>${t('adminPools.recallEnabled')}</span></label>
    <div style="display: grid; grid-template-columns: repeat(auto-fit, minmax(140px, 1fr)); gap: 0 12px">
      ${GRADE_KEYS.map((g) => html`<${Field} id=${`pool-days-${g}`} type="number" min="1" required=${false}
        label=${g === 'default' ? t('adminPools.daysDefault') : t('adminPools.daysGrade', { grade: g })}
        value=${f[`days_${g}`]} onInput=${set(`days_${g}`)} testid=${`pool-days-${g}`} />`)}
    </div>
    <div style="display: grid; grid-template-columns: repeat(auto-fit, minmax(140px, 1fr)); gap: 0 12px">
      <${Field} id="pool-nosign" type="number" min="1" required=${false} label=${t('adminPools.noSigningDays')} hint=${t('adminPools.noSigningHint')}
        value=${f.no_signing_days} onInput=${set('no_signing_days')} testid="pool-nosign" />
      <${Field} id="pool-warn" type="number" min="0" label=${t('adminPools.warnDays')} value=${f.warn_days_before} onInput=${set('warn_days_before')} testid="pool-warn" />
    </div>
    <h3 class="card-title">${t('adminPools.limits')}</h3>
    <div style="display: grid; grid-template-columns: repeat(auto-fit, minmax(140px, 1fr)); gap: 0 12px">
      <${Field} id="pool-daily" type="number" min="0" label=${t('adminPools.dailyLimit')} value=${f.claim_daily_limit} onInput=${set('claim_daily_limit')} testid="pool-daily" />
      <${Field} id="pool-max" type="number" min="0" label=${t('adminPools.maxOwned')} value=${f.max_owned} onInput=${set('max_owned')} testid="pool-max" />
      <${Field} id="pool-cooldown" type="number" min="0" label=${t('adminPools.cooldown')} value=${f.reclaim_cooldown_days} onInput=${set('reclaim_cooldown_days')} testid="pool-cooldown" />
      <${Field} id="pool-protect" type="number" min="0" label=${t('adminPools.protect')} value=${f.protect_new_hours} onInput=${set('protect_new_hours')} testid="pool-protect" />
    </div>
    <label class="check"><input type="checkbox" checked=${f.max_owned_counts_won} onChange=${(e) => set('max_owned_counts_won')(e.currentTarget.checked)} />
      <span>${t('adminPools.countsWon')}</span></label>
  <//>`;
}

function localInput(d) {
  const pad = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

function SweepPreview({ pools }) {
  const [at, setAt] = useState(localInput(new Date()));
  const [state, setState] = useState({ status: 'idle' });
  const poolName = (id) => pools.find((p) => p.id === id)?.name || id;
  const run = async (event) => {
    event.preventDefault();
    setState({ status: 'loading' });
    try {
      const asOf = new Date(at).toISOString();
      const r = await api('POST', `/api/v1/pools/sweep?dry_run=true&as_of=${encodeURIComponent(asOf)}`, {});
      setState({ status: 'ready', report: r });
    } catch (error) {
      setState({ status: 'error', error });
    }
  };
  return html`<div class="card" data-testid="sweep-preview">
    <h2 class="card-title">${t('adminPools.preview')}</h2>
    <p class="muted">${t('adminPools.previewHint')}</p>
    <form class="toolbar" onSubmit=${run}>
      <label class="toolbar-field"><span>${t('adminPools.asOf')}</span>
        <input class="input input-sm" type="datetime-local" value=${at} onInput=${(e) => setAt(e.currentTarget.value)} data-testid="sweep-at" /></label>
      <button type="submit" class="btn btn-sm" data-testid="sweep-run">${t('adminPools.previewRun')}</button>
    </form>
    ${state.status === 'loading' && html`<${Loading} />`}
    ${state.status === 'error' && html`<div class="form-error" role="alert">${errorText(state.error)}</div>`}
    ${state.status === 'ready' && html`<p data-testid="sweep-summary">${t('adminPools.previewSummary', {
      scanned: state.report.scanned, recalled: state.report.recalled, warned: state.report.warned })}</p>
      ${(state.report.pools || []).some((p) => p.recalled + p.warned > 0) && html`<ul class="muted" data-testid="sweep-pools">
        ${state.report.pools.filter((p) => p.recalled + p.warned > 0).map((p) => html`<li key=${p.pool_id}>${t('adminPools.previewPool', {
          pool: poolName(p.pool_id), recalled: p.recalled, warned: p.warned })}</li>`)}</ul>`}
      ${state.report.truncated && html`<p class="muted" data-testid="sweep-truncated">${t('adminPools.previewTruncated', {
        shown: state.report.actions.length, total: state.report.recalled + state.report.warned })}</p>`}
      ${state.report.actions.length > 0 && html`<div class="table-wrap"><table class="table" data-testid="sweep-table">
        <thead><tr><th>${t('customers.field.name')}</th><th>${t('adminPools.action')}</th><th>${t('adminPools.reason')}</th><th>${t('adminPools.toPool')}</th></tr></thead>
        <tbody>${state.report.actions.map((a) => html`<tr key=${a.customer_id} data-testid="sweep-row">
          <td><a href=${`/customers/${encodeURIComponent(a.customer_id)}`}>${a.customer_name}</a></td>
          <td>${a.action === 'recall' ? t('adminPools.actionRecall') : t('adminPools.actionWarn', { days: a.days_left })}</td>
          <td>${a.reason}</td><td>${poolName(a.pool_id)}</td></tr>`)}</tbody>
      </table></div>`}`}
  </div>`;
}

// Automatic assignment per user: pause (no new leads) and weight (turns in weighted mode),
// with each user's open leads (GET/PUT /api/v1/assignment/users).
function AssignmentSettings({ deptName }) {
  const [state, setState] = useState({ status: 'loading' });
  const [busy, setBusy] = useState(null);
  const [weights, setWeights] = useState({});
  const load = async () => {
    try {
      const users = await api('GET', '/api/v1/assignment/users');
      setState({ status: 'ready', users });
      setWeights(Object.fromEntries(users.map((u) => [u.user_id, String(u.weight)])));
    } catch (error) {
      setState({ status: 'error', error });
    }
  };
  useEffect(() => {
    load();
  }, []);
  const put = (row) => setState((s) => ({ ...s, users: s.users.map((x) => (x.user_id === row.user_id ? row : x)) }));
  const save = async (u, change) => {
    setBusy(u.user_id);
    put({ ...u, ...change }); // shown at once; put back if the server refuses
    try {
      const after = await api('PUT', `/api/v1/assignment/users/${encodeURIComponent(u.user_id)}`, change);
      put(after);
      setWeights((w) => ({ ...w, [after.user_id]: String(after.weight) }));
      toast(t('adminPools.assign.saved'));
    } catch (error) {
      put(u);
      setWeights((w) => ({ ...w, [u.user_id]: String(u.weight) }));
      toast(errorText(error), { tone: 'error' });
    } finally {
      setBusy(null);
    }
  };
  return html`<div class="card" data-testid="assignment-settings">
    <h2 class="card-title">${t('adminPools.assign.title')}</h2>
    <p class="muted">${t('adminPools.assign.hint')}</p>
    ${state.status === 'loading' && html`<${Loading} />`}
    ${state.status === 'error' && html`<${LoadError} error=${state.error} onRetry=${load} />`}
    ${state.status === 'ready' && (state.users.length === 0
      ? html`<p class="muted">${t('adminPools.assign.empty')}</p>`
      : html`<div class="table-wrap"><table class="table" data-testid="assignment-table">
        <thead><tr><th>${t('adminPools.assign.user')}</th><th>${t('adminPools.department')}</th><th>${t('adminPools.assign.openLeads')}</th>
          <th>${t('adminPools.assign.owned')}</th><th>${t('adminPools.assign.paused')}</th><th>${t('adminPools.assign.weight')}</th></tr></thead>
        <tbody>${state.users.map((u) => html`<tr key=${u.user_id} data-testid="assignment-row">
          <td>${u.display_name || u.username}</td><td>${u.department_id ? deptName(u.department_id) : t('users.noDepartmentShort')}</td><td>${u.open_leads}</td>
          <td>${u.owned} / ${u.capacity}</td>
          <td><label class="check"><input type="checkbox" checked=${u.paused} disabled=${busy === u.user_id}
            onChange=${(e) => save(u, { paused: e.currentTarget.checked })} data-testid="assignment-paused" />
            <span>${u.paused ? t('adminPools.assign.isPaused') : t('adminPools.assign.active')}</span></label></td>
          <td class="nowrap"><input class="input input-sm" type="number" min="1" max="100" style="width: 5em"
              aria-label=${t('adminPools.assign.weight')} value=${weights[u.user_id] ?? ''}
              onInput=${(e) => { const v = e.currentTarget.value; setWeights((w) => ({ ...w, [u.user_id]: v })); }}
              data-testid="assignment-weight" />
            <button type="button" class="btn btn-sm" disabled=${busy === u.user_id || weights[u.user_id] === String(u.weight)}
              onClick=${() => save(u, { weight: Number(weights[u.user_id]) })} data-testid="assignment-weight-save">${t('adminPools.assign.save')}</button></td>
        </tr>`)}</tbody></table></div>`)}
  </div>`;
}

export function AdminPoolsPage() {
  const [state, setState] = useState({ status: 'loading' });
  const [editing, setEditing] = useState(null);
  const [deleting, setDeleting] = useState(null);
  const [delState, setDelState] = useState({ busy: false, error: null });
  const load = async () => {
    try {
      const [pools, departments, users] = await Promise.all([
        api('GET', '/api/v1/pools'),
        api('GET', '/api/v1/departments').catch(() => []),
        api('GET', '/api/v1/users').then((r) => r.items || r).catch(() => []),
      ]);
      setState({ status: 'ready', pools, departments: departments.items || departments, users: users.filter((u) => u.status === 'active') });
    } catch (error) {
      setState({ status: 'error', error });
    }
  };
  useEffect(() => {
    load();
  }, []);
  const remove = async () => {
    setDelState({ busy: true, error: null });
    try {
      await api('DELETE', `/api/v1/pools/${encodeURIComponent(deleting.id)}`);
      setDeleting(null);
      setDelState({ busy: false, error: null });
      load();
    } catch (e) {
      setDelState({ busy: false, error: poolErrorText(e) });
    }
  };
  if (state.status === 'loading') return html`<${Loading} testid="admin-pools-loading" />`;
  if (state.status === 'error') return html`<${LoadError} error=${state.error} onRetry=${load} />`;
  const deptName = (id) => (id ? state.departments.find((d) => d.id === id)?.name || id : t('adminPools.firmWide'));
  return html`<section class="page page-wide" data-testid="page-admin-pools">
    <header class="page-header page-header-row">
      <div><h1 class="page-title">${t('adminPools.title')}</h1><p class="page-subtitle">${t('adminPools.subtitle')}</p></div>
      <button type="button" class="btn btn-primary" onClick=${() => setEditing({})} data-testid="pool-create">
        <${Icon} name="plus" size=${16} /><span>${t('adminPools.create')}</span></button>
    </header>
    ${state.pools.length === 0
      ? html`<${EmptyState} icon="inbox" title=${t('adminPools.empty.title')} body=${t('adminPools.empty.body')} />`
      : html`<div class="card card-flush"><div class="table-wrap"><table class="table" data-testid="admin-pools-table">
        <thead><tr><th>${t('adminPools.name')}</th><th>${t('adminPools.department')}</th><th>${t('adminPools.waiting')}</th>
          <th>${t('adminPools.dailyLimit')}</th><th>${t('adminPools.maxOwned')}</th><th>${t('adminPools.updated')}</th><th></th></tr></thead>
        <tbody>${state.pools.map((p) => html`<tr key=${p.id} data-testid="admin-pool-row">
          <td>${p.name}</td><td>${deptName(p.department_id)}</td><td>${p.customers}</td>
          <td>${p.settings.claim_daily_limit}</td><td>${p.settings.max_owned}</td>
          <td class="nowrap">${formatDateTime(p.updated_at, { seconds: false })}</td>
          <td class="nowrap">
            <button type="button" class="btn btn-sm" onClick=${() => setEditing(p)} data-testid="pool-edit">${t('adminPools.edit')}</button>
            <button type="button" class="btn btn-sm btn-text" onClick=${() => setDeleting(p)} data-testid="pool-delete">${t('adminPools.delete')}</button>
          </td></tr>`)}</tbody></table></div></div>`}
    <${SweepPreview} pools=${state.pools} />
    <${AssignmentSettings} deptName=${deptName} />
    ${editing && html`<${PoolDialog} pool=${editing.id ? editing : null} departments=${state.departments} users=${state.users}
      onClose=${() => setEditing(null)} onSaved=${() => { setEditing(null); load(); }} />`}
    ${deleting && html`<${ConfirmDialog} title=${t('adminPools.delete')} body=${t('adminPools.deleteBody', { name: deleting.name })}
      confirmLabel=${t('adminPools.delete')} busy=${delState.busy} error=${delState.error} onConfirm=${remove} onClose=${() => setDeleting(null)} />`}
  </section>`;
}
