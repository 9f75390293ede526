// /reports — the reports page: the reports in a row of tabs; each with a period
// (Asia/Shanghai days), a department filter where it applies, an ECharts chart (vendored, no
// build step), a table and an XLSX export (GET /api/v1/reports/{name}?format=xlsx, audited).
import { useEffect, useRef, useState } from '../vendor/preact/hooks.module.js';
import { html } from '../html.js';
import { locale, t } from '../i18n/index.js';
import { api, apiBlob, saveBlob } from '../api.js';
import { todayIso } from '../format.js';
import { errorText } from '../errors.js';
import { FormError } from '../components/field.js';
import { EmptyState, LoadError, Loading } from '../components/states.js';
import { CustomReport, customTitle, loadCustomReports } from './reports-custom.js';
import { yuan } from '../components/fees.js';
import { talkText } from '../components/calls.js';
import { PeriodInputs } from '../components/period.js';

const REPORTS = ['activity', 'funnel', 'pools', 'call_stats', 'rankings', 'finance', 'products'];
/** Reports counted per user: the department filter applies to them. */
const BY_USER = new Set(['activity', 'pools', 'call_stats', 'rankings', 'finance', 'products']);
/** Id columns: in the XLSX, not on screen. */
const HIDDEN = new Set(['user_id', 'pool_id', 'product_id']);
/** What the rankings rank by (`by`). */
const RANK_BY = ['fees', 'deals', 'followups', 'calls'];

function monthStart(iso) {
  return `${iso.slice(0, 8)}01`;
}

function daysBefore(iso, n) {
  const d = new Date(`${iso}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() - n);
  return d.toISOString().slice(0, 10);
}

/** A row's label: a user's name, a pool and user, or a funnel stage. */
function rowLabel(name, kind, r) {
  if (name === 'funnel') return t(kind === 'deal' ? `deals.stage.${r.stage}` : `stage.${r.stage}`);
  if (name === 'pools') return `${r.display_name} · ${r.pool_name}`;
  if (name === 'products') return r.product_name;
  return r.display_name;
}

function cell(name, kind, col, r) {
  const v = r[col.key];
  if (v == null) return '—';
  if (col.key === 'stage') return rowLabel(name, kind, r);
  if (col.key.endsWith('_bp')) return `${(v / 100).toFixed(1)}%`;
  if (col.key.endsWith('_fen')) return yuan(v);
  if (col.key.endsWith('_seconds')) return talkText(v);
  return String(v);
}

function Chart({ report, kind }) {
  const ref = useRef(null);
  useEffect(() => {
    let chart = null;
    let gone = false;
    const resize = () => chart && chart.resize();
    import('../vendor/echarts/echarts.esm.min.js').then((echarts) => {
      if (gone || !ref.current) return;
      chart = echarts.init(ref.current, null, { renderer: 'svg' });
      const labels = report.rows.map((r) => rowLabel(report.name, kind, r));
      // Money in yuan and rates in percent, with the unit in the axis name (the axis had none).
      const scaled = report.chart.endsWith('_fen') || report.chart.endsWith('_bp');
      const values = report.rows.map((r) => (r[report.chart] ?? 0) / (scaled ? 100 : 1));
      const column = t(`reports.col.${report.chart}`);
      const axisName = report.chart.endsWith('_fen') ? t('reports.axis.yuan', { name: column })
        : report.chart.endsWith('_bp') ? t('reports.axis.percent', { name: column }) : column;
      chart.setOption({ animation: false });
      chart.setOption(report.name === 'funnel'
        ? {
          tooltip: { trigger: 'item', formatter: '{b}: {c}' },
          series: [{
            type: 'funnel', left: '5%', width: '90%', top: 10, bottom: 10, sort: 'none', gap: 2, minSize: '8%',
            label: { show: true, position: 'inside', formatter: '{b} {c}' },
            data: labels.map((name, i) => ({ name, value: values[i] })),
          }],
        }
        : {
          tooltip: { trigger: 'axis' },
          grid: { left: 8, right: 16, top: 16, bottom: 28, containLabel: true },
          xAxis: { type: 'value', minInterval: 1, name: axisName, nameLocation: 'middle', nameGap: 26 },
          yAxis: { type: 'category', data: labels, inverse: true },
          series: [{ type: 'bar', name: column, data: values }],
        });
      window.addEventListener('resize', resize);
    });
    return () => {
      gone = true;
      window.removeEventListener('resize', resize);
      if (chart) chart.dispose();
    };
  }, [report, kind, locale.value]); // the series' name is in the current language
  return html`<div ref=${ref} class="funnel-chart" role="img" aria-label=${t(`reports.${report.name}.title`)} data-testid="report-chart"></div>`;
}

export function ReportsPage() {
  const today = todayIso();
  const [name, setName] = useState('activity');
  const [kind, setKind] = useState('customer');
  const [period, setPeriod] = useState({ from: monthStart(today), to: today });
  const [department, setDepartment] = useState('');
  const [by, setBy] = useState('fees');
  const [idleDays, setIdleDays] = useState(7);
  const [departments, setDepartments] = useState([]);
  const [state, setState] = useState({ status: 'loading' });
  const [saving, setSaving] = useState(false);
  const [error, setError] = useState(null);
  // Custom reports (Rhai plugins), after the built-in ones: tab `custom:<name>`.
  const [custom, setCustom] = useState([]);
  useEffect(() => { loadCustomReports().then(setCustom); }, []);
  const customInfo = name.startsWith('custom:') ? custom.find((c) => `custom:${c.name}` === name) : null;

  useEffect(() => {
    api('GET', '/api/v1/departments').then((d) => setDepartments(d.items || [])).catch(() => setDepartments([]));
  }, []);

  const query = () => {
    const q = new URLSearchParams({ from: period.from, to: period.to });
    if (BY_USER.has(name) && department) q.set('department', department);
    if (name === 'funnel') q.set('kind', kind);
    if (name === 'rankings') q.set('by', by);
    if (name === 'activity') q.set('idle_days', String(idleDays));
    return q;
  };
  const load = () => {
    if (name.startsWith('custom:')) return;
    setState({ status: 'loading' });
    api('GET', `/api/v1/reports/${name}?${query()}`)
      .then((r) => setState({ status: 'ready', r }))
      .catch((e) => setState({ status: 'error', error: e }));
  };
  useEffect(load, [name, kind, period.from, period.to, department, by, idleDays]);

  const exportXlsx = async () => {
    setSaving(true);
    setError(null);
    try {
      const q = query();
      q.set('format', 'xlsx');
      saveBlob(`${t(`reports.${name}.title`)}-${period.from}-${period.to}.xlsx`, await apiBlob('GET', `/api/v1/reports/${name}?${q}`));
    } catch (e) {
      setError(errorText(e));
    } finally {
      setSaving(false);
    }
  };

  let body;
  if (state.status === 'loading') body = html`<${Loading} />`;
  else if (state.status === 'error') body = html`<${LoadError} error=${state.error} onRetry=${load} />`;
  else {
    const { r } = state;
    // No rows: nothing to show. Rows whose charted number is 0 throughout: the table still
    // holds the rest (a product matched but never signed), only the chart has nothing to draw.
    const empty = r.rows.length === 0;
    const flat = !empty && r.rows.every((x) => !x[r.chart]);
    const numbers = r.columns.filter((c) => c.kind === 'number');
    body = html`
      ${empty
        ? html`<${EmptyState} icon="dashboard" title=${t('reports.empty.title')} body=${t('reports.empty.body')} testid="report-empty" />`
        : flat
          ? html`<p class="muted" data-testid="report-chart-flat">${t('reports.chartFlat', { column: t(`reports.col.${r.chart}`) })}</p>`
          : html`<div class="card"><${Chart} report=${r} kind=${kind} /></div>`}
      ${r.rows.length > 0 && html`<div class="card table-wrap"><table class="table" data-testid="report-table">
        <thead><tr>${r.columns.filter((c) => !HIDDEN.has(c.key)).map((c) => html`<th key=${c.key}>${t(`reports.col.${c.key}`)}</th>`)}</tr></thead>
        <tbody>${r.rows.map((x, i) => html`<tr key=${i}>${r.columns.filter((c) => !HIDDEN.has(c.key)).map((c) => html`<td key=${c.key}>${cell(r.name, kind, c, x)}</td>`)}</tr>`)}
        ${Object.keys(r.totals).length > 0 && html`<tr class="is-muted" data-testid="report-totals">${r.columns.filter((c) => !HIDDEN.has(c.key)).map((c, i) => html`<td key=${c.key}>${i === 0 ? t('reports.total') : (numbers.includes(c) && r.totals[c.key] != null ? cell(r.name, kind, c, r.totals) : '')}</td>`)}</tr>`}
        </tbody></table></div>`}
      <p class="muted" data-testid="report-note">${t(`reports.${r.name}.note`)}</p>`;
  }
  return html`<section class="page" data-testid="page-reports">
    <header class="page-header"><h1 class="page-title">${t('nav.reports')}</h1>
      ${!customInfo && html`<button type="button" class="btn" disabled=${saving || state.status !== 'ready'} onClick=${exportXlsx} data-testid="report-export">${t('reports.export')}</button>`}
    </header>
    <${FormError} message=${error} />
    <div class="card funnel-period">
      <div class="chip-row" role="tablist">
        ${REPORTS.map((k) => html`<button type="button" role="tab" aria-selected=${name === k} key=${k}
          class=${`btn btn-sm${name === k ? ' btn-primary' : ''}`} onClick=${() => setName(k)} data-testid=${`report-tab-${k}`}>${t(`reports.${k}.title`)}</button>`)}
        ${custom.map((c) => html`<button type="button" role="tab" aria-selected=${name === `custom:${c.name}`} key=${`custom:${c.name}`}
          class=${`btn btn-sm${name === `custom:${c.name}` ? ' btn-primary' : ''}${c.runnable ? '' : ' is-muted'}`} title=${c.file}
          onClick=${() => setName(`custom:${c.name}`)} data-testid=${`report-tab-custom-${c.name}`}>${customTitle(c)}</button>`)}
      </div>
      ${customInfo ? null : html`
      ${name === 'funnel' && html`<div class="chip-row">
        ${['customer', 'deal'].map((k) => html`<button type="button" key=${k} class=${`btn btn-sm${kind === k ? ' btn-primary' : ''}`}
          onClick=${() => setKind(k)} data-testid=${`report-kind-${k}`}>${t(`funnel.kind.${k}s`)}</button>`)}
      </div>`}
      <div class="chip-row">
        <button type="button" class="btn btn-sm" onClick=${() => setPeriod({ from: monthStart(today), to: today })}>${t('funnel.thisMonth')}</button>
        <button type="button" class="btn btn-sm" onClick=${() => setPeriod({ from: daysBefore(today, 29), to: today })} data-testid="report-30">${t('funnel.last30')}</button>
        <button type="button" class="btn btn-sm" onClick=${() => setPeriod({ from: daysBefore(today, 89), to: today })}>${t('funnel.last90')}</button>
      </div>
      <${PeriodInputs} period=${period} onChange=${setPeriod} testid="report" />
      ${name === 'rankings' && html`<div class="chip-row" data-testid="report-by">
        ${RANK_BY.map((k) => html`<button type="button" key=${k} class=${`btn btn-sm${by === k ? ' btn-primary' : ''}`}
          onClick=${() => setBy(k)} data-testid=${`report-by-${k}`}>${t(`reports.by.${k}`)}</button>`)}
      </div>`}
      ${name === 'activity' && html`<label class="field-inline">${t('reports.idleDays')}
        <input class="input input-sm" type="number" inputMode="numeric" style="width:5em" min="1" max="365" value=${idleDays}
          onChange=${(e) => { const n = Number(e.currentTarget.value); if (n >= 1 && n <= 365) setIdleDays(n); }} data-testid="report-idle-days" /></label>`}
      ${BY_USER.has(name) && departments.length > 0 && html`<label class="field-inline">${t('reports.department')}
        <select class="input" value=${department} onChange=${(e) => setDepartment(e.currentTarget.value)} data-testid="report-department">
          <option value="">${t('reports.allDepartments')}</option>
          ${departments.map((d) => html`<option key=${d.id} value=${d.id}>${d.name}</option>`)}
        </select></label>`}`}
    </div>
    ${customInfo ? html`<${CustomReport} key=${customInfo.name} info=${customInfo} />` : body}
  </section>`;
}
