import { useEffect, useRef, useState } from '../vendor/preact/hooks.module.js';
import { html } from '../html.js';
import { locale, t } from '../i18n/index.js';
import { api } from '../api.js';
import { can, session } from '../auth.js';
import { formatDateTime, todayIso } from '../format.js';
import { yuan } from '../components/fees.js';
import { Icon } from '../components/icons.js';
import { LoadError, Loading, useKeyedLoad } from '../components/states.js';
import { loadReminders, loadUpcoming, remindersStamp } from '../components/reminders.js';
import { TransferRequestsCard } from '../components/transfer-requests.js';
import { DealRemindersCard } from '../components/deal-reminders.js';
import { OverdueDocumentsCard } from '../components/documents.js';
import { CallStatsCard, UnmatchedCallsCard } from '../components/calls.js';

function greeting(name) {
  const hour = new Date().getHours();
  if (hour >= 5 && hour < 11) return t('dashboard.greeting.morning', { name });
  if (hour >= 11 && hour < 13) return t('dashboard.greeting.noon', { name });
  if (hour >= 13 && hour < 18) return t('dashboard.greeting.afternoon', { name });
  return t('dashboard.greeting.evening', { name });
}

function ReminderList({ title, items, tone, testid, emptyText }) {
  return html`<div class="card card-flush reminder-card" data-testid=${testid}>
    <div class="reminder-head">
      <h2 class="card-title">${title}</h2>
      <span class=${`badge badge-${items.length ? tone : 'muted'}`} data-testid=${`${testid}-count`}>${items.length}</span>
    </div>
    ${items.length
      ? html`<ul class="reminder-list">
          ${items.map((r) => html`<li key=${r.customer.id}>
            <a class="reminder-row" href=${`/customers/${encodeURIComponent(r.customer.id)}`} data-testid=${`${testid}-row`}>
              <span class="reminder-name">${r.customer.name}</span>
              <span class="mono muted">${r.customer.phone}</span>
              <span class="reminder-spacer"></span>
              ${r.kind === 'recall_warning'
                ? html`<span class="nowrap tone-warning" title=${r.reason || ''} data-testid="recall-days">${t('reminders.recallDays', { days: r.days_left })}</span>`
                : html`<time class=${`nowrap ${tone === 'error' ? 'tone-error' : ''}`} datetime=${r.due_at}>${formatDateTime(r.due_at, { seconds: false })}</time>`}
            </a>
          </li>`)}
        </ul>`
      : html`<p class="reminder-empty muted" data-testid=${`${testid}-empty`}>${emptyText}</p>`}
  </div>`;
}

function Todos() {
  const stamp = remindersStamp.value;
  const [state, setState] = useState({ status: 'loading' });
  const load = () => {
    Promise.all([loadReminders(), loadUpcoming()])
      .then(([r, u]) => setState({ status: 'ready', ...r, ...u }))
      .catch((error) => setState({ status: 'error', error }));
  };
  useEffect(load, [stamp]);
  let body;
  if (state.status === 'loading') body = html`<${Loading} testid="todos-loading" />`;
  else if (state.status === 'error') body = html`<${LoadError} error=${state.error} onRetry=${load} testid="todos-error" />`;
  else if (!state.today.length && !state.overdue.length && !state.recall.length
    && !state.tomorrow.length && !state.week.length) {
    body = html`<div class="card empty-state" data-testid="todos-empty">
      <div class="empty-state-icon"><${Icon} name="check" size=${36} /></div>
      <h2 class="empty-state-title">${t('reminders.empty.title')}</h2>
      <p class="empty-state-body">${t('reminders.empty.body')}</p>
      <div class="empty-state-actions"><a class="btn" href="/customers">${t('reminders.toCustomers')}</a></div>
    </div>`;
  } else {
    body = html`<div class="card-grid">
      <${ReminderList} title=${t('reminders.today')} items=${state.today} tone="warning" testid="todos-today"
        emptyText=${t('reminders.todayEmpty')} />
      <${ReminderList} title=${t('reminders.overdue')} items=${state.overdue} tone="error" testid="todos-overdue"
        emptyText=${t('reminders.overdueEmpty')} />
      ${state.recall.length > 0 && html`<${ReminderList} title=${t('reminders.recall')} items=${state.recall} tone="warning"
        testid="todos-recall" emptyText="" />`}
      <${ReminderList} title=${t('reminders.tomorrow')} items=${state.tomorrow} tone="info" testid="todos-tomorrow"
        emptyText=${t('reminders.tomorrowEmpty')} />
      <${ReminderList} title=${t('reminders.week')} items=${state.week} tone="info" testid="todos-week"
        emptyText=${t('reminders.weekEmpty')} />
    </div>`;
  }
  return html`<section class="todos" aria-labelledby="todos-title" data-testid="todos">
    <h2 class="section-title" id="todos-title">${t('reminders.title')}</h2>
    ${body}
  </section>`;
}

/** A manager's team at a glance (GET /api/v1/team/today): per colleague in their data scope,
 *  follow-ups logged today, overdue customers and open leads. */
function TeamToday() {
  const [state, setState] = useState({ status: 'loading' });
  const load = () => {
    api('GET', '/api/v1/team/today')
      .then((team) => setState({ status: 'ready', team }))
      .catch((error) => setState({ status: 'error', error }));
  };
  useEffect(load, []);
  let body;
  if (state.status === 'loading') body = html`<${Loading} testid="team-loading" />`;
  else if (state.status === 'error') body = html`<${LoadError} error=${state.error} onRetry=${load} testid="team-error" />`;
  else if (!state.team.members.length) body = html`<p class="muted" data-testid="team-empty">${t('team.empty')}</p>`;
  else {
    body = html`<div class="table-wrap"><table class="table table-keep team-table" data-testid="team-table">
      <thead><tr>
        <th scope="col">${t('team.member')}</th>
        <th scope="col" class="num">${t('team.followupsToday')}</th>
        <th scope="col" class="num">${t('team.overdue')}</th>
        <th scope="col" class="num">${t('team.openLeads')}</th>
      </tr></thead>
      <tbody>${state.team.members.map((m) => html`<tr key=${m.user_id} data-testid="team-row" data-user=${m.user_id}>
        <td class="nowrap">${m.display_name}</td>
        <td class="num" data-testid="team-followups">${m.followups_today}</td>
        <td class=${`num ${m.overdue > 0 ? 'tone-error' : ''}`} data-testid="team-overdue">${m.overdue}</td>
        <td class="num" data-testid="team-open-leads">${m.open_leads}</td>
      </tr>`)}</tbody>
    </table></div>`;
  }
  return html`<section class="todos" aria-labelledby="team-title" data-testid="team-today">
    <h2 class="section-title" id="team-title">${t('team.title')}</h2>
    <div class="card card-flush">${body}</div>
  </section>`;
}

/** Finance's morning: what is owed, what is late, what came in this month and which ended
 *  months still wait for their close (finance.read: /finance/receivables, /overdue, /payments,
 *  /months). Each figure links to the page that lists it. */
function FinanceToday() {
  const month = todayIso().slice(0, 7);
  const [state, load] = useKeyedLoad(month, () => Promise.all([
    api('GET', '/api/v1/finance/receivables'),
    api('GET', '/api/v1/finance/overdue'),
    api('GET', `/api/v1/finance/payments?month=${month}`),
    api('GET', '/api/v1/finance/months'),
  ]).then(([owed, late, moves, months]) => ({
    owed, late, moves,
    // A month with nothing recorded in it has nothing to close.
    open: months.filter((m) => m.over && !m.closed && (m.lines > 0 || m.received_fen !== 0)),
  })));
  let body;
  if (state.status === 'loading') body = html`<${Loading} testid="finance-today-loading" />`;
  else if (state.status === 'error') body = html`<${LoadError} error=${state.error} onRetry=${load} testid="finance-today-error" />`;
  else {
    const { owed, late, moves, open } = state.data;
    const tile = (testid, href, label, value, note, tone = '') => html`<a class=${`fin-stat ${tone}`} href=${href} data-testid=${testid}>
      <div class="fin-stat-label">${label}</div>
      <div class="fin-stat-value" data-testid=${`${testid}-value`}>${value}</div>
      <div class="fin-stat-note muted">${note}</div>
    </a>`;
    body = html`<div class="fin-stats">
      ${tile('finance-today-owed', '/finance/receivables', t('financeToday.owed'), yuan(owed.total_fen),
        t('financeToday.deals', { n: owed.items.length }))}
      ${tile('finance-today-late', '/finance/overdue', t('financeToday.late'), yuan(late.total_fen),
        t('financeToday.deals', { n: late.items.length }), late.items.length ? 'tone-error' : '')}
      ${tile('finance-today-received', '/finance/payments', t('financeToday.received', { month }), yuan(moves.net_fen),
        t('financeToday.moves', { n: moves.items.length }))}
      ${tile('finance-today-close', '/finance/months', t('financeToday.close'),
        open.length ? open.slice(0, 3).map((m) => m.month).join(t('financeToday.sep')) : t('financeToday.closeNone'),
        open.length > 3 ? t('financeToday.closeMore', { n: open.length }) : (open.length ? t('financeToday.closeHint') : ''),
        open.length ? 'tone-warning' : '')}
    </div>`;
  }
  return html`<section class="todos" aria-labelledby="finance-today-title" data-testid="finance-today">
    <h2 class="section-title" id="finance-today-title">${t('financeToday.title')}</h2>
    <div class="card">${body}</div>
  </section>`;
}

/** New leads (bars, left axis) and follow-ups (a line, right axis) per day: ECharts, loaded on demand like the
 *  funnel page, SVG renderer (the CSP allows no inline canvas tricks, and text stays text). */
function TrendsChart({ series }) {
  const ref = useRef(null);
  useEffect(() => {
    let chart = null;
    let gone = false;
    const resize = () => chart && chart.resize();
    import('../vendor/echarts/echarts.esm.min.js').then((echarts) => {
      if (gone || !ref.current) return;
      chart = echarts.init(ref.current, null, { renderer: 'svg' });
      chart.setOption({
        tooltip: { trigger: 'axis' },
        legend: { top: 0 },
        grid: { left: 8, right: 8, top: 56, bottom: 8, containLabel: true },
        xAxis: { type: 'category', data: series.map((d) => d.day.slice(5)) },
        // Two axes, each named: on one, 113 new leads flattened 2 follow-ups to a line at 0.
        yAxis: [
          { type: 'value', minInterval: 1, name: t('trends.axis.newLeads'), nameTextStyle: { align: 'left' } },
          { type: 'value', minInterval: 1, name: t('trends.axis.followups'), nameTextStyle: { align: 'right' }, splitLine: { show: false } },
        ],
        series: [
          { type: 'bar', name: t('trends.newLeads'), data: series.map((d) => d.new_leads) },
          { type: 'line', name: t('trends.followups'), yAxisIndex: 1, data: series.map((d) => d.followups), smooth: true, showSymbol: false },
        ],
      });
      window.addEventListener('resize', resize);
    });
    return () => {
      gone = true;
      window.removeEventListener('resize', resize);
      if (chart) chart.dispose();
    };
  }, [series, locale.value]); // the series' names are in the current language
  return html`<div ref=${ref} class="trends-chart" role="img" aria-label=${t('trends.chartLabel')} data-testid="trends-chart"></div>`;
}

/** Trends and ranking over my scope (GET /api/v1/reports/trends): new leads and follow-ups by
 *  day for the last 30 or 90 days, and the top 10 by follow-ups. */
function Trends() {
  const [days, setDays] = useState(30);
  const [state, load] = useKeyedLoad(days, () => api('GET', `/api/v1/reports/trends?days=${days}`));
  let body;
  if (state.status === 'loading') body = html`<${Loading} testid="trends-loading" />`;
  else if (state.status === 'error') body = html`<${LoadError} error=${state.error} onRetry=${load} testid="trends-error" />`;
  else {
    const tr = state.data;
    const top = tr.ranking.slice(0, 10);
    body = html`
      ${tr.counting_since && tr.from < tr.counting_since && html`<p class="muted" data-testid="trends-since">${t('trends.since', { day: tr.counting_since })}</p>`}
      <${TrendsChart} series=${tr.series} />
      <h3 class="trends-subtitle">${t('trends.ranking')}</h3>
      ${top.length
        ? html`<div class="table-wrap"><table class="table table-keep trends-table" data-testid="trends-ranking">
          <thead><tr>
            <th scope="col" class="num">#</th>
            <th scope="col">${t('team.member')}</th>
            <th scope="col" class="num">${t('trends.followups')}</th>
            <th scope="col" class="num">${t('trends.newLeads')}</th>
          </tr></thead>
          <tbody>${top.map((r, i) => html`<tr key=${r.user_id} data-testid="trends-row" data-user=${r.user_id}>
            <td class="num">${i + 1}</td>
            <td class="trends-name">${r.display_name}</td>
            <td class="num" data-testid="trends-row-followups">${r.followups}</td>
            <td class="num" data-testid="trends-row-leads">${r.new_leads}</td>
          </tr>`)}</tbody>
        </table></div>`
        : html`<p class="muted" data-testid="trends-ranking-empty">${t('trends.rankingEmpty')}</p>`}`;
  }
  return html`<section class="todos" aria-labelledby="trends-title" data-testid="trends"
    data-shown=${state.status === 'ready' ? days : ''}>
    <div class="trends-head">
      <h2 class="section-title" id="trends-title">${t('trends.title')}</h2>
      <div class="chip-row" role="tablist">
        ${[30, 90].map((n) => html`<button type="button" role="tab" aria-selected=${days === n}
          class=${`btn btn-sm${days === n ? ' btn-primary' : ''}`} onClick=${() => setDays(n)}
          data-testid=${`trends-${n}`}>${t(`trends.last${n}`)}</button>`)}
      </div>
    </div>
    <div class="card">${body}</div>
  </section>`;
}

/** The rankings this month over my scope (GET /api/v1/reports/rankings): by fees, deals signed,
 *  follow-ups or calls; top 10. A salesperson sees only their own row (docs/reports.md). */
function Rankings() {
  const [by, setBy] = useState('fees');
  const today = todayIso();
  const [state, load] = useKeyedLoad(by, () =>
    api('GET', `/api/v1/reports/rankings?from=${today.slice(0, 8)}01&to=${today}&by=${by}`).then((r) => r.rows.slice(0, 10)));
  let body;
  if (state.status === 'loading') body = html`<${Loading} testid="rankings-loading" />`;
  else if (state.status === 'error') body = html`<${LoadError} error=${state.error} onRetry=${load} testid="rankings-error" />`;
  else if (state.data.length === 0) body = html`<p class="muted" data-testid="rankings-empty">${t('trends.rankingEmpty')}</p>`;
  else {
    body = html`<div class="table-wrap"><table class="table table-keep trends-table" data-testid="rankings">
      <thead><tr>
        <th scope="col" class="num">#</th>
        <th scope="col">${t('team.member')}</th>
        <th scope="col" class="num">${t('reports.col.fees_fen')}</th>
        <th scope="col" class="num">${t('reports.col.deals_signed')}</th>
        <th scope="col" class="num">${t('reports.col.followups')}</th>
        <th scope="col" class="num">${t('reports.col.calls')}</th>
      </tr></thead>
      <tbody>${state.data.map((r) => html`<tr key=${r.user_id} data-testid="rankings-row" data-user=${r.user_id}>
        <td class="num">${r.rank}</td>
        <td class="trends-name">${r.display_name}</td>
        <td class="num">${yuan(r.fees_fen)}</td>
        <td class="num">${r.deals_signed}</td>
        <td class="num">${r.followups}</td>
        <td class="num">${r.calls}</td>
      </tr>`)}</tbody>
    </table></div>`;
  }
  return html`<section class="todos" aria-labelledby="rankings-title" data-testid="rankings-card"
    data-shown=${state.status === 'ready' ? by : ''}>
    <div class="trends-head">
      <h2 class="section-title" id="rankings-title">${t('rankings.title')}</h2>
      <div class="chip-row" role="tablist">
        ${['fees', 'deals', 'followups', 'calls'].map((k) => html`<button type="button" role="tab" aria-selected=${by === k} key=${k}
          class=${`btn btn-sm${by === k ? ' btn-primary' : ''}`} onClick=${() => setBy(k)}
          data-testid=${`rankings-by-${k}`}>${t(`reports.by.${k}`)}</button>`)}
      </div>
    </div>
    <div class="card">${body}</div>
  </section>`;
}

export function DashboardPage() {
  const user = session.value;
  const name = user.display_name || user.username;
  return html`<section class="page" data-testid="page-dashboard">
    <header class="page-header">
      <h1 class="page-title" data-testid="dashboard-greeting">${greeting(name)}</h1>
      <p class="page-subtitle">${t('dashboard.subtitle')}</p>
    </header>
    ${can('finance.read') && html`<${FinanceToday} />`}
    ${can('customer.edit') && user.data_scope && user.data_scope !== 'self' && html`<${TeamToday} />`}
    ${can('customer.read') && html`<${TransferRequestsCard} />`}
    ${can('deal.read') && html`<${DealRemindersCard} />`}
    ${can('deal.read') && html`<${OverdueDocumentsCard} />`}
    ${can('customer.assign') && html`<${UnmatchedCallsCard} />`}
    ${can('customer.read') && html`<${CallStatsCard} />`}
    ${can('customer.read')
      ? html`${can('customer.edit') && html`<${Todos} />`}<${Trends} />${can('deal.read') && html`<${Rankings} />`}`
      : html`<div class="card empty-state" data-testid="dashboard-empty">
      <div class="empty-state-icon"><${Icon} name="inbox" size=${40} /></div>
      <h2 class="empty-state-title">${t('dashboard.empty.title')}</h2>
      <p class="empty-state-body">${t('dashboard.empty.body')}</p>
    </div>`}
  </section>`;
}
