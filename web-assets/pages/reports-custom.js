// Custom reports on the reports page: Rhai plugins under plugins/reports/*.rhai, listed by
// GET /api/v1/reports/custom after the built-in reports. Each declares its parameters
// (shown here as a form), runs with GET /api/v1/reports/custom/{name}?… over the caller's
// scope, and is drawn as a chart (its chart spec: bar, line or pie) and a table, with the
// usual XLSX export. A broken plugin shows its error with file and line, here only: the page
// and the other reports keep working.
import { useEffect, useRef, useState } from '../vendor/preact/hooks.module.js';
import { html } from '../html.js';
import { locale, t } from '../i18n/index.js';
import { api, apiBlob, saveBlob } from '../api.js';
import { todayIso } from '../format.js';
import { errorText } from '../errors.js';
import { FormError } from '../components/field.js';
import { EmptyState, Loading } from '../components/states.js';

/** GET /api/v1/reports/custom; a failure gives an empty list (the built-in reports stay). */
export function loadCustomReports() {
  return api('GET', '/api/v1/reports/custom').catch(() => []);
}

export function customTitle(info) {
  return locale.value === 'en' && info.title_en ? info.title_en : info.title;
}

function label(p) {
  return locale.value === 'en' && p.label_en ? p.label_en : p.label;
}

function shift(iso, days) {
  const d = new Date(`${iso}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10);
}

/** The period a parameter's default names (as the server reads it). */
function defaultPeriod(which, today) {
  const first = `${today.slice(0, 8)}01`;
  const lastMonthEnd = shift(first, -1);
  switch (which) {
    case 'last_month': return { from: `${lastMonthEnd.slice(0, 8)}01`, to: lastMonthEnd };
    case 'last_and_this_month': return { from: `${lastMonthEnd.slice(0, 8)}01`, to: today };
    case 'last_7_days': return { from: shift(today, -6), to: today };
    case 'last_30_days': return { from: shift(today, -29), to: today };
    default: return { from: first, to: today };
  }
}

function initialValues(info, today) {
  const v = {};
  for (const p of info.params) {
    if (p.kind === 'period') Object.assign(v, defaultPeriod(p.default, today));
    else v[p.name] = p.default == null ? '' : String(p.default);
  }
  return v;
}

/** "reports/x.rhai:12: message" of a script error object. */
function located(e) {
  return `${e.file}${e.line ? `:${e.line}` : ''}: ${e.message}`;
}

function CustomChart({ r }) {
  const ref = useRef(null);
  useEffect(() => {
    let chart = null;
    let gone = false;
    const resize = () => chart && chart.resize();
    const spec = r.chart_spec;
    const col = (lbl) => r.columns.find((c) => c.label === lbl);
    import('../vendor/echarts/echarts.esm.min.js').then((echarts) => {
      if (gone || !ref.current) return;
      chart = echarts.init(ref.current, null, { renderer: 'svg' });
      const x = col(spec.x);
      const cats = r.rows.map((row) => String(row[x.key] ?? ''));
      const series = spec.series.map(col).filter(Boolean);
      chart.setOption({ animation: false });
      chart.setOption(spec.kind === 'pie'
        ? {
          tooltip: { trigger: 'item', formatter: '{b}: {c} ({d}%)' },
          series: [{ type: 'pie', radius: '65%', name: series[0].label,
            data: cats.map((name, i) => ({ name, value: r.rows[i][series[0].key] ?? 0 })) }],
        }
        : {
          tooltip: { trigger: 'axis' },
          legend: { top: 0 },
          grid: { left: 8, right: 16, top: series.length === 1 ? 48 : 32, bottom: 8, containLabel: true },
          xAxis: { type: 'category', data: cats },
          // One series: the value axis says what it counts (with several, the legend does).
          yAxis: { type: 'value', name: series.length === 1 ? series[0].label : '', nameTextStyle: { align: 'left' } },
          series: series.map((s) => ({ type: spec.kind, name: s.label, data: r.rows.map((row) => row[s.key] ?? 0) })),
        });
      window.addEventListener('resize', resize);
    });
    return () => {
      gone = true;
      window.removeEventListener('resize', resize);
      if (chart) chart.dispose();
    };
  }, [r]);
  return html`<div ref=${ref} class="funnel-chart" role="img" aria-label=${r.title} data-testid="custom-report-chart"></div>`;
}

function ParamField({ p, values, set, departments, products }) {
  const value = values[p.name] ?? '';
  const onChange = (e) => set({ ...values, [p.name]: e.currentTarget.value });
  if (p.kind === 'period') {
    return html`<span class="field-inline" style=${{ flexWrap: 'wrap' }}>${label(p)}
      <input class="input" type="date" value=${values.from} max=${values.to} aria-label=${t('funnel.from')}
        onChange=${(e) => e.currentTarget.value && set({ ...values, from: e.currentTarget.value })} data-testid="custom-param-from" />
      <input class="input" type="date" value=${values.to} min=${values.from} aria-label=${t('funnel.to')}
        onChange=${(e) => e.currentTarget.value && set({ ...values, to: e.currentTarget.value })} data-testid="custom-param-to" /></span>`;
  }
  let input;
  if (p.kind === 'number') {
    input = html`<input class="input" type="number" step="1" value=${value} onChange=${onChange} data-testid=${`custom-param-${p.name}`} />`;
  } else {
    const options = p.kind === 'department' ? departments.map((d) => [d.id, d.name])
      : p.kind === 'product' ? products.map((x) => [x.id, `${x.lender} · ${x.name}`])
        : p.options.map((o) => [o, o]);
    input = html`<select class="input" value=${value} onChange=${onChange} data-testid=${`custom-param-${p.name}`}>
      ${p.kind !== 'choice' && html`<option value="">${t('reports.custom.any')}</option>`}
      ${options.map(([v, l]) => html`<option key=${v} value=${v}>${l}</option>`)}
    </select>`;
  }
  return html`<label class="field-inline">${label(p)} ${input}</label>`;
}

/** One custom report: its parameters as a form, the chart, the table and the export. */
export function CustomReport({ info }) {
  const today = todayIso();
  const [values, setValues] = useState(() => initialValues(info, today));
  const [departments, setDepartments] = useState([]);
  const [products, setProducts] = useState([]);
  const [state, setState] = useState({ status: 'idle' });
  const [saving, setSaving] = useState(false);
  const [exportError, setExportError] = useState(null);

  useEffect(() => {
    setValues(initialValues(info, today));
    setState({ status: 'idle' });
    if (info.params.some((p) => p.kind === 'department')) {
      api('GET', '/api/v1/departments').then((d) => setDepartments(d.items || [])).catch(() => setDepartments([]));
    }
    if (info.params.some((p) => p.kind === 'product')) {
      api('GET', '/api/v1/products?active=true').then((d) => setProducts(d.items || [])).catch(() => setProducts([]));
    }
  }, [info.name]);

  const query = () => {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(values)) if (v !== '' && v != null) q.set(k, v);
    return q;
  };
  const run = (e) => {
    if (e) e.preventDefault();
    setState({ status: 'loading' });
    api('GET', `/api/v1/reports/custom/${encodeURIComponent(info.name)}?${query()}`)
      .then((r) => setState({ status: 'ready', r }))
      .catch((error) => setState({ status: 'error', error }));
  };
  useEffect(() => { if (info.runnable) run(); }, [info.name]);

  const exportXlsx = async () => {
    setSaving(true);
    setExportError(null);
    try {
      const q = query();
      q.set('format', 'xlsx');
      saveBlob(`${customTitle(info)}.xlsx`, await apiBlob('GET', `/api/v1/reports/custom/${encodeURIComponent(info.name)}?${q}`));
    } catch (err) {
      setExportError(errorText(err));
    } finally {
      setSaving(false);
    }
  };

  let body = null;
  if (state.status === 'loading') body = html`<${Loading} />`;
  else if (state.status === 'error') {
    const e = state.error;
    body = html`<div class="form-error" role="alert" data-testid="custom-report-error">
      ${e?.code === 'report_plugin_failed' ? `${t('error.report_plugin_failed')} ${e.message}` : errorText(e)}</div>`;
  } else if (state.status === 'ready') {
    const { r } = state;
    body = html`
      ${r.file_error && html`<div class="form-error" role="alert" data-testid="custom-report-file-error">
        ${t('reports.custom.lastGood')} ${located(r.file_error)}</div>`}
      ${r.rows.length === 0
        ? html`<${EmptyState} icon="dashboard" title=${t('reports.empty.title')} body=${t('reports.custom.emptyBody')} testid="custom-report-empty" />`
        : html`
          ${r.chart_spec && html`<div class="card"><${CustomChart} r=${r} /></div>`}
          <div class="card table-wrap"><table class="table" data-testid="custom-report-table">
            <thead><tr>${r.columns.map((c) => html`<th key=${c.key}>${c.label}</th>`)}</tr></thead>
            <tbody>${r.rows.map((x, i) => html`<tr key=${i}>${r.columns.map((c) => html`<td key=${c.key}
              class=${c.kind === 'number' ? 'mono-num' : ''}>${x[c.key] == null ? '—' : String(x[c.key])}</td>`)}</tr>`)}</tbody>
          </table></div>`}
      <p class="muted">${t('reports.custom.note', { file: info.file })}</p>`;
  }

  return html`<div data-testid="custom-report">
    ${!info.runnable
      ? html`<div class="form-error" role="alert" data-testid="custom-report-error">
          ${t('reports.custom.broken')} ${info.error ? located(info.error) : ''}</div>`
      : html`
        ${info.error && state.status !== 'ready' && html`<div class="form-error" role="alert">${t('reports.custom.lastGood')} ${located(info.error)}</div>`}
        <form class="card funnel-period" onSubmit=${run} data-testid="custom-report-form">
          ${info.params.map((p) => html`<${ParamField} key=${p.name} p=${p} values=${values} set=${setValues}
            departments=${departments} products=${products} />`)}
          <div class="chip-row">
            <button type="submit" class="btn btn-primary btn-sm" disabled=${state.status === 'loading'} data-testid="custom-report-run">${t('reports.custom.run')}</button>
            <button type="button" class="btn btn-sm" disabled=${saving || state.status !== 'ready'} onClick=${exportXlsx} data-testid="custom-report-export">${t('reports.export')}</button>
          </div>
        </form>
        <${FormError} message=${exportError} />
        ${body}`}
  </div>`;
}
