// Channels (/finance/channels): the firm's lead channels with their monthly costs (a grid
// of the last 12 months; closed months locked), and the ROI table per channel over a period with
// a bar chart of ROI. Finance reads (finance.read) and edits (finance.edit).
import { useEffect, useRef, useState } from '../vendor/preact/hooks.module.js';
import { html } from '../html.js';
import { t } from '../i18n/index.js';
import { api } from '../api.js';
import { fenToYuan, parseYuanToFen } from '../money.js';
import { EmptyState, LoadError, Loading } from '../components/states.js';
import { FormDialog } from '../components/dialog.js';
import { Field } from '../components/field.js';
import { toast } from '../components/toast.js';
import { placeError } from '../errors.js';
import { yuan } from '../components/fees.js';

// The server's kinds (`GET /channels` `kinds`), in its order: online ads, street promotion,
// telesales, referral, broker, other.
const KIND_IDS = ['online', 'street', 'phone', 'referral', 'broker', 'other'];
let KINDS = [];
const kindLabel = (k) => {
  const i = KINDS.indexOf(k);
  return i >= 0 && KIND_IDS[i] ? t(`channels.kind.${KIND_IDS[i]}`) : k;
};
const pct = (bp) => (bp == null ? '—' : `${(bp / 100).toFixed(2)}%`);
const money = (fen) => (fen == null ? '—' : yuan(fen));

function ChannelDialog({ channel, kinds, onClose, onDone }) {
  const [f, setF] = useState({
    name: channel ? channel.name : '',
    kind: channel ? channel.kind : kinds[0],
    active: channel ? channel.active : true,
    notes: (channel && channel.notes) || '',
  });
  const [busy, setBusy] = useState(false);
  const [err, setErr] = useState({ field: null, text: '' });
  const submit = async () => {
    setBusy(true);
    try {
      const body = { name: f.name, kind: f.kind, active: f.active, notes: f.notes || null };
      if (channel) await api('PUT', `/api/v1/channels/${channel.id}`, body);
      else await api('POST', '/api/v1/channels', body);
      toast(t('channels.saved'));
      onDone();
    } catch (error) {
      setErr(placeError(error, ['name', 'kind', 'notes']));
    } finally {
      setBusy(false);
    }
  };
  return html`<${FormDialog} title=${t(channel ? 'channels.edit' : 'channels.new')} onClose=${onClose} onSubmit=${submit}
    busy=${busy} testid="channel-dialog" error=${err.field ? null : err.text}>
    <${Field} id="channel-name" label=${t('channels.name')} value=${f.name} onInput=${(v) => setF({ ...f, name: v })}
      error=${err.field === 'name' ? err.text : null} testid="channel-name" maxLength=${32} />
    <div class="field"><label class="field-label" for="channel-kind">${t('channels.kind')}</label>
      <select class="input select" id="channel-kind" value=${f.kind} data-testid="channel-kind"
        onChange=${(e) => setF({ ...f, kind: e.currentTarget.value })}>
        ${kinds.map((k) => html`<option key=${k} value=${k}>${kindLabel(k)}</option>`)}
      </select></div>
    <${Field} id="channel-notes" label=${t('channels.notes')} value=${f.notes} onInput=${(v) => setF({ ...f, notes: v })}
      required=${false} error=${err.field === 'notes' ? err.text : null} testid="channel-notes" />
    <label class="checkbox"><input type="checkbox" checked=${f.active} data-testid="channel-active"
      onChange=${(e) => setF({ ...f, active: e.currentTarget.checked })} /> ${t('channels.active')}</label>
  <//>`;
}

function CostDialog({ channel, month, onClose, onDone }) {
  const now = channel.costs[month];
  const [v, setV] = useState(now == null ? '' : fenToYuan(now));
  const [busy, setBusy] = useState(false);
  const [err, setErr] = useState({ field: null, text: '' });
  const submit = async () => {
    const fen = v.trim() === '' ? 0 : parseYuanToFen(v);
    if (fen == null) {
      setErr({ field: 'cost_fen', text: t('channels.error.amount') });
      return;
    }
    setBusy(true);
    try {
      await api('PUT', `/api/v1/channels/${channel.id}/costs/${month}`, { cost_fen: fen });
      toast(t('channels.saved'));
      onDone();
    } catch (error) {
      setErr(placeError(error, ['cost_fen']));
    } finally {
      setBusy(false);
    }
  };
  return html`<${FormDialog} title=${t('channels.cost.title', { name: channel.name, month })} onClose=${onClose}
    onSubmit=${submit} busy=${busy} testid="cost-dialog" error=${err.field ? null : err.text}>
    <${Field} id="channel-cost" label=${t('channels.cost.yuan')} value=${v} onInput=${setV} inputMode="decimal"
      error=${err.field === 'cost_fen' ? err.text : null} testid="channel-cost" hint=${t('channels.cost.hint')} />
  <//>`;
}

function RoiChart({ rows }) {
  const ref = useRef(null);
  useEffect(() => {
    let chart = null;
    let gone = false;
    const resize = () => chart && chart.resize();
    const data = rows.filter((r) => r.roi_bp != null);
    import('../vendor/echarts/echarts.esm.min.js').then((echarts) => {
      if (gone || !ref.current) return;
      chart = echarts.init(ref.current, null, { renderer: 'svg' });
      chart.setOption({
        tooltip: { trigger: 'axis', valueFormatter: (v) => `${v}%` },
        grid: { left: 8, right: 8, top: 16, bottom: 8, containLabel: true },
        xAxis: { type: 'category', data: data.map((r) => r.label), axisLabel: { interval: 0, rotate: 30 } },
        yAxis: { type: 'value', axisLabel: { formatter: '{value}%' } },
        series: [{ type: 'bar', name: 'ROI', data: data.map((r) => r.roi_bp / 100) }],
      });
      window.addEventListener('resize', resize);
    });
    return () => {
      gone = true;
      window.removeEventListener('resize', resize);
      if (chart) chart.dispose();
    };
  }, [rows]);
  return html`<div ref=${ref} class="funnel-chart" role="img" aria-label=${t('channels.chart')} data-testid="channels-chart"></div>`;
}

function rowLabel(r) {
  if (r.registered) return r.label;
  return r.name === '' ? t('channels.none') : t('channels.unregistered', { name: r.name });
}

function RoiTable({ report }) {
  const cols = [
    ['leads', (r) => r.leads], ['valid', (r) => r.valid_leads], ['signed', (r) => r.signed],
    ['disbursed', (r) => money(r.disbursed_fen)], ['fees', (r) => money(r.fees_fen)], ['cost', (r) => money(r.cost_fen)],
    ['perLead', (r) => money(r.cost_per_lead_fen)], ['perSigned', (r) => money(r.cost_per_signed_fen)], ['roi', (r) => pct(r.roi_bp)],
  ];
  const line = (r, total) => html`<tr data-testid=${total ? 'roi-total' : 'roi-row'} data-label=${r.label} class=${total ? 'row-total' : ''}>
    <td>${total ? t('channels.total') : rowLabel(r)}</td>
    ${cols.map(([k, f]) => html`<td key=${k} data-testid=${`roi-${k}`}>${f(r)}</td>`)}</tr>`;
  return html`<div class="card card-flush"><div class="table-wrap"><table class="table" data-testid="roi-table">
    <thead><tr><th>${t('channels.channel')}</th>${cols.map(([k]) => html`<th key=${k}>${t(`channels.col.${k}`)}</th>`)}</tr></thead>
    <tbody>${report.rows.map((r) => line(r, false))}${line(report.totals, true)}</tbody>
  </table></div></div>`;
}

export function ChannelsPage() {
  const [state, setState] = useState({ status: 'loading' });
  const [period, setPeriod] = useState(null);
  const [editing, setEditing] = useState(null);
  const [costing, setCosting] = useState(null);
  const load = async () => {
    try {
      const list = await api('GET', '/api/v1/channels');
      KINDS = list.kinds;
      const p = period || { from: list.months[list.months.length - 1], to: list.months[list.months.length - 1] };
      const report = await api('GET', `/api/v1/reports/channels?from=${p.from}&to=${p.to}`);
      if (!period) setPeriod(p);
      setState({ status: 'ready', list, report });
    } catch (error) {
      setState({ status: 'error', error });
    }
  };
  useEffect(() => { load(); }, [period && period.from, period && period.to]);
  const done = () => { setEditing(null); setCosting(null); load(); };
  const { list, report } = state;
  return html`<section class="page page-wide" data-testid="page-channels">
    <header class="page-header page-header-row">
      <div><h1 class="page-title">${t('nav.finance.channels')}</h1>
        <p class="page-subtitle">${t('channels.subtitle')}</p></div>
      ${list && list.may_edit && html`<div class="page-actions"><button type="button" class="btn btn-primary" data-testid="channel-new"
        onClick=${() => setEditing({})}>${t('channels.new')}</button></div>`}</header>
    ${state.status === 'loading' ? html`<${Loading} />`
      : state.status === 'error' ? html`<${LoadError} error=${state.error} onRetry=${load} />`
      : html`
        <h2 class="card-title">${t('channels.costs')}</h2>
        ${list.items.length === 0 ? html`<${EmptyState} title=${t('channels.empty')} body=${t('channels.empty.body')} testid="channels-empty" />`
          : html`<div class="card card-flush"><div class="table-wrap"><table class="table" data-testid="channel-costs">
            <thead><tr><th>${t('channels.channel')}</th>${list.months.map((m) => html`<th key=${m}>${m}${list.closed.includes(m) ? ' 🔒' : ''}</th>`)}</tr></thead>
            <tbody>${list.items.map((c) => html`<tr key=${c.id} data-testid="channel-row" data-name=${c.name}>
              <td><div>${c.name}${!c.active && html` <span class="muted">(${t('channels.inactive')})</span>`}</div>
                <div class="muted small">${kindLabel(c.kind)}</div>
                ${list.may_edit && html`<button type="button" class="btn btn-link" data-testid="channel-edit"
                  onClick=${() => setEditing({ channel: c })}>${t('channels.edit')}</button>`}</td>
              ${list.months.map((m) => {
                const locked = list.closed.includes(m) || !list.may_edit;
                return html`<td key=${m}><button type="button" class="btn btn-link" disabled=${locked}
                  data-testid=${`cost-${m}`} aria-label=${t('channels.cost.title', { name: c.name, month: m })}
                  onClick=${() => setCosting({ channel: c, month: m })}>${money(c.costs[m])}</button></td>`;
              })}</tr>`)}</tbody></table></div></div>`}
        <h2 class="card-title">${t('channels.roi')}</h2>
        <div class="month-picker">
          <div class="field"><label class="field-label" for="roi-from">${t('channels.from')}</label>
            <input class="input" id="roi-from" type="month" value=${period.from} data-testid="roi-from"
              onChange=${(e) => e.currentTarget.value && setPeriod({ ...period, from: e.currentTarget.value })} /></div>
          <div class="field"><label class="field-label" for="roi-to">${t('channels.to')}</label>
            <input class="input" id="roi-to" type="month" value=${period.to} data-testid="roi-to"
              onChange=${(e) => e.currentTarget.value && setPeriod({ ...period, to: e.currentTarget.value })} /></div>
        </div>
        ${report.rows.length === 0 ? html`<${EmptyState} title=${t('channels.roi.empty')} testid="roi-empty" />`
          : html`<${RoiTable} report=${report} /><${RoiChart} rows=${report.rows} />`}
        <p class="muted small">${t('channels.roi.note')}</p>`}
    ${editing && html`<${ChannelDialog} channel=${editing.channel} kinds=${list.kinds} onClose=${() => setEditing(null)} onDone=${done} />`}
    ${costing && html`<${CostDialog} channel=${costing.channel} month=${costing.month} onClose=${() => setCosting(null)} onDone=${done} />`}
  </section>`;
}
