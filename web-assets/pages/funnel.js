// /reports/funnel — the customer funnel over my scope for a period (GET
// /api/v1/funnels/customers): an ECharts funnel (vendored, no build step) of how many reached
// each stage, and a table with the conversion to the next stage and the median days in each.
import { useEffect, useRef, useState } from '../vendor/preact/hooks.module.js';
import { html } from '../html.js';
import { t } from '../i18n/index.js';
import { api } from '../api.js';
import { todayIso } from '../format.js';
import { can } from '../auth.js';
import { EmptyState, LoadError, Loading } from '../components/states.js';
import { PeriodInputs } from '../components/period.js';

function monthStart(iso) {
  return `${iso.slice(0, 8)}01`;
}

function daysBefore(iso, n) {
  const d = new Date(`${iso}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() - n);
  return d.toISOString().slice(0, 10);
}

function pct(bp) {
  return bp == null ? '—' : `${(bp / 100).toFixed(1)}%`;
}

/** The label of a stage of `kind` (customer stages and deal stages have their own words). */
function stageLabel(kind, stage) {
  return t(kind === 'deals' ? `deals.stage.${stage}` : `stage.${stage}`);
}

function Chart({ stages, kind }) {
  const ref = useRef(null);
  useEffect(() => {
    let chart = null;
    let gone = false;
    const resize = () => chart && chart.resize();
    import('../vendor/echarts/echarts.esm.min.js').then((echarts) => {
      if (gone || !ref.current) return;
      chart = echarts.init(ref.current, null, { renderer: 'svg' });
      chart.setOption({
        tooltip: { trigger: 'item', formatter: '{b}: {c}' },
        series: [{
          type: 'funnel', left: '5%', width: '90%', top: 10, bottom: 10, sort: 'none', gap: 2, minSize: '8%',
          label: { show: true, position: 'inside', formatter: '{b} {c}' },
          data: stages.map((s) => ({ name: stageLabel(kind, s.stage), value: s.reached })),
        }],
      });
      window.addEventListener('resize', resize);
    });
    return () => {
      gone = true;
      window.removeEventListener('resize', resize);
      if (chart) chart.dispose();
    };
  }, [stages, kind]);
  return html`<div ref=${ref} class="funnel-chart" role="img" aria-label=${t('funnel.chartLabel')} data-testid="funnel-chart"></div>`;
}

export function FunnelPage() {
  const today = todayIso();
  const [period, setPeriod] = useState({ from: monthStart(today), to: today });
  const [state, setState] = useState({ status: 'loading' });
  const [kind, setKind] = useState('customers');
  const load = () => {
    setState({ status: 'loading' });
    api('GET', `/api/v1/funnels/${kind}?from=${period.from}&to=${period.to}`)
      .then((f) => setState({ status: 'ready', f }))
      .catch((e) => setState({ status: 'error', error: e }));
  };
  useEffect(load, [period.from, period.to, kind]);
  const preset = (from) => setPeriod({ from, to: today });
  let body;
  if (state.status === 'loading') body = html`<${Loading} />`;
  else if (state.status === 'error') body = html`<${LoadError} error=${state.error} onRetry=${load} />`;
  else {
    const { f } = state;
    const empty = f.stages.every((s) => s.reached === 0) && Object.keys(f.outcomes).length === 0;
    body = html`
      ${f.counting_since && f.from < f.counting_since && html`<p class="muted" data-testid="funnel-since">${t('funnel.since', { day: f.counting_since })}</p>`}
      ${empty
        ? html`<${EmptyState} icon="dashboard" title=${t('funnel.empty.title')} body=${t('funnel.empty.body')} testid="funnel-empty" />`
        : html`<div class="card"><${Chart} stages=${f.stages} kind=${kind} /></div>
          <div class="card table-wrap"><table class="table table-keep funnel-table" data-testid="funnel-table">
            <thead><tr><th>${t('funnel.stage')}</th><th>${t('funnel.reached')}</th><th>${t('funnel.conversion')}</th><th>${t('funnel.median')}</th></tr></thead>
            <tbody>${f.stages.map((s) => html`<tr key=${s.stage}><td>${stageLabel(kind, s.stage)}</td><td>${s.reached}</td>
              <td>${pct(s.conversion_bp)}</td><td>${s.median_days == null ? '—' : t('funnel.days', { n: s.median_days })}</td></tr>`)}
            ${Object.entries(f.outcomes).map(([k, n]) => html`<tr key=${k} class="is-muted"><td>${stageLabel(kind, k)}</td><td>${n}</td><td>—</td><td>—</td></tr>`)}
            </tbody></table></div>
          ${f.reasons.length > 0 && html`<div class="card" data-testid="funnel-reasons">
            <h2 class="card-title">${t('funnel.reasons')}</h2>
            <ul class="reminder-list">${f.reasons.map((r) => html`<li key=${r.stage + r.reason}>
              <span class="badge">${stageLabel(kind, r.stage)}</span> ${r.reason} <span class="muted">× ${r.count}</span></li>`)}</ul>
          </div>`}`}`;
  }
  return html`<section class="page" data-testid="page-funnel">
    <header class="page-header"><h1 class="page-title">${t('nav.funnel')}</h1></header>
    <div class="card funnel-period">
      ${can('deal.read') && html`<div class="chip-row" role="tablist">
        ${['customers', 'deals'].map((k) => html`<button type="button" role="tab" aria-selected=${kind === k}
          class=${`btn btn-sm${kind === k ? ' btn-primary' : ''}`} onClick=${() => setKind(k)} data-testid=${`funnel-kind-${k}`}>${t(`funnel.kind.${k}`)}</button>`)}
      </div>`}
      <div class="chip-row">
        <button type="button" class="btn btn-sm" onClick=${() => preset(monthStart(today))} data-testid="funnel-month">${t('funnel.thisMonth')}</button>
        <button type="button" class="btn btn-sm" onClick=${() => preset(daysBefore(today, 29))} data-testid="funnel-30">${t('funnel.last30')}</button>
        <button type="button" class="btn btn-sm" onClick=${() => preset(daysBefore(today, 89))}>${t('funnel.last90')}</button>
      </div>
      <${PeriodInputs} period=${period} onChange=${setPeriod} testid="funnel" />
      <p class="muted">${t('funnel.hint')}</p>
    </div>
    ${body}
  </section>`;
}

