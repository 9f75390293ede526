// Targets (/targets): each user's and department's monthly target for fees received, amount
// disbursed, deals signed and follow-ups, with the progress so far. Everyone sees their own,
// a manager their department's and can set targets (a dialog per row).
import { useEffect, useState } from '../vendor/preact/hooks.module.js';
import { html } from '../html.js';
import { t } from '../i18n/index.js';
import { api } from '../api.js';
import { todayIso } from '../format.js';
import { fenToYuan, parseYuanToFen } from '../money.js';
import { EmptyState, LoadError, Loading } from '../components/states.js';
import { FormDialog } from '../components/dialog.js';
import { Field } from '../components/field.js';
import { toast } from '../components/toast.js';
import { placeError } from '../errors.js';
import { yuan } from '../components/fees.js';

const MEASURES = [
  { id: 'fees', target: 'fees_fen', actual: 'fees_fen', bp: 'fees_bp', money: true },
  { id: 'disbursed', target: 'disbursed_fen', actual: 'disbursed_fen', bp: 'disbursed_bp', money: true },
  { id: 'deals', target: 'deals_signed', actual: 'deals_signed', bp: 'deals_signed_bp', money: false },
  { id: 'followups', target: 'followups', actual: 'followups', bp: 'followups_bp', money: false },
];

function Cell({ p, m }) {
  const a = p.actual[m.actual];
  const tg = p.target[m.target];
  const bp = p.progress[m.bp];
  const show = (v) => (m.money ? yuan(v) : String(v));
  return html`<td data-testid=${`target-${m.id}`}>
    <div>${show(a)}${tg != null && html`<span class="muted"> / ${show(tg)}</span>`}</div>
    ${bp != null && html`<div class="target-bar" role="progressbar" aria-valuenow=${Math.floor(bp / 100)} aria-valuemin="0" aria-valuemax="100">
      <span style=${`width:${Math.min(100, bp / 100)}%`}></span></div>
      <div class="muted small" data-testid=${`target-${m.id}-pct`}>${(bp / 100).toFixed(2)}%</div>`}
  </td>`;
}

function EditDialog({ month, row, department, onClose, onDone }) {
  const init = (m) => {
    const v = row.target[m.target];
    if (v == null) return '';
    return m.money ? fenToYuan(v) : String(v);
  };
  const [v, setV] = useState(Object.fromEntries(MEASURES.map((m) => [m.id, init(m)])));
  const [busy, setBusy] = useState(false);
  const [err, setErr] = useState({ field: null, text: '' });
  const fields = MEASURES.map((m) => m.target);
  const submit = async () => {
    const body = { month, [department ? 'department_id' : 'user_id']: row.id };
    for (const m of MEASURES) {
      const s = v[m.id].trim();
      if (s === '') continue;
      const n = m.money ? parseYuanToFen(s) : (/^\d+$/.test(s) ? Number(s) : undefined);
      if (n == null) {
        setErr({ field: m.target, text: t('targets.error.number') });
        return;
      }
      body[m.target] = n;
    }
    setBusy(true);
    try {
      await api('PUT', '/api/v1/targets', body);
      toast(t('targets.saved'));
      onDone();
    } catch (error) {
      setErr(placeError(error, fields));
    } finally {
      setBusy(false);
    }
  };
  return html`<${FormDialog} title=${t('targets.edit.title', { name: row.name, month })} onClose=${onClose} onSubmit=${submit}
    busy=${busy} testid="target-dialog" error=${err.field ? null : err.text}>
    ${MEASURES.map((m) => html`<${Field} key=${m.id} id=${`target-${m.id}-input`} label=${t(`targets.measure.${m.id}${m.money ? '.yuan' : ''}`)}
      value=${v[m.id]} onInput=${(x) => setV({ ...v, [m.id]: x })} required=${false} inputMode="decimal"
      error=${err.field === m.target ? err.text : null} testid=${`target-${m.id}-input`} />`)}
  <//>`;
}

function Table({ rows, month, department, mayEdit, onEdit, testid }) {
  return html`<div class="card card-flush"><div class="table-wrap"><table class="table" data-testid=${testid}>
    <thead><tr><th>${t(department ? 'targets.department' : 'targets.user')}</th>
      ${MEASURES.map((m) => html`<th key=${m.id}>${t(`targets.measure.${m.id}`)}</th>`)}${mayEdit && html`<th></th>`}</tr></thead>
    <tbody>${rows.map((p) => html`<tr key=${p.id} data-testid="target-row" data-id=${p.id}>
      <td>${p.name}</td>${MEASURES.map((m) => html`<${Cell} key=${m.id} p=${p} m=${m} />`)}
      ${mayEdit && html`<td><button type="button" class="btn btn-link" data-testid="target-edit"
        onClick=${() => onEdit({ row: p, department, month })}>${t('targets.edit')}</button></td>`}
    </tr>`)}</tbody>
  </table></div></div>`;
}

export function TargetsPage() {
  const [month, setMonth] = useState(todayIso().slice(0, 7));
  const [state, setState] = useState({ status: 'loading' });
  const [editing, setEditing] = useState(null);
  const load = async () => {
    try {
      setState({ status: 'ready', p: await api('GET', `/api/v1/targets/progress?month=${month}`) });
    } catch (error) {
      setState({ status: 'error', error });
    }
  };
  useEffect(() => { setState({ status: 'loading' }); load(); }, [month]);
  const p = state.p;
  return html`<section class="page page-wide" data-testid="page-targets">
    <header class="page-header"><h1 class="page-title">${t('nav.targets')}</h1>
      <p class="page-subtitle">${t('targets.subtitle')}</p></header>
    <div class="month-picker">
      <div class="field"><label class="field-label" for="target-month">${t('finance.month')}</label>
        <input class="input" id="target-month" type="month" value=${month} data-testid="target-month"
          onChange=${(e) => e.currentTarget.value && setMonth(e.currentTarget.value)} /></div>
    </div>
    ${state.status === 'loading' ? html`<${Loading} />`
      : state.status === 'error' ? html`<${LoadError} error=${state.error} onRetry=${load} />`
      : html`
        ${p.departments.length > 0 && html`<h2 class="card-title">${t('targets.departments')}</h2>
          <${Table} rows=${p.departments} month=${p.month} department=${true} mayEdit=${p.may_set} onEdit=${setEditing} testid="target-departments" />`}
        <h2 class="card-title">${t('targets.users')}</h2>
        ${p.users.length === 0 ? html`<${EmptyState} title=${t('targets.empty')} testid="targets-empty" />`
          : html`<${Table} rows=${p.users} month=${p.month} department=${false} mayEdit=${p.may_set} onEdit=${setEditing} testid="target-users" />`}`}
    ${editing && html`<${EditDialog} month=${editing.month} row=${editing.row} department=${editing.department}
      onClose=${() => setEditing(null)} onDone=${() => { setEditing(null); load(); }} />`}
  </section>`;
}
