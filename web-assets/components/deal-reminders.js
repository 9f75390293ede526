// Service reminders of running loans on the dashboard (issue 16.8): before the first repayment,
// a renewal opportunity two months before maturity, and the maturity — today's (and the last
// week's, while the date is still ahead) and the next 7 days'. Shown only when there are any.
import { useEffect, useState } from '../vendor/preact/hooks.module.js';
import { html } from '../html.js';
import { t } from '../i18n/index.js';
import { api } from '../api.js';
import { errorText } from '../errors.js';
import { fenToWan } from '../money.js';

function Items({ items, testid }) {
  return html`<ul class="reminder-list" data-testid=${testid}>${items.map((r) => html`<li key=${`${r.deal_id}-${r.kind}`}>
    <a href=${`/deals/${encodeURIComponent(r.deal_id)}`}>${r.customer_name}</a>
    <span class="badge">${t(`dealReminder.kind.${r.kind}`)}</span>
    <span class="muted">${t('dealReminder.line', { date: r.date, product: r.product, amount: fenToWan(r.amount_fen) })}</span>
  </li>`)}</ul>`;
}

export function DealRemindersCard() {
  const [state, setState] = useState(null);
  useEffect(() => {
    Promise.all([
      api('GET', '/api/v1/deals/reminders?due=today'),
      api('GET', '/api/v1/deals/reminders?due=week'),
    ]).then(([today, week]) => setState({ today, week }))
      .catch((e) => setState({ error: errorText(e), today: [], week: [] }));
  }, []);
  if (!state || (!state.error && !state.today.length && !state.week.length)) return null;
  return html`<div class="card" data-testid="deal-reminders">
    <h2 class="card-title">${t('dealReminder.title')}</h2>
    ${state.error && html`<div class="form-error" role="alert">${state.error}</div>`}
    ${state.today.length > 0 && html`<h3 class="section-title">${t('dealReminder.today')}</h3><${Items} items=${state.today} testid="deal-reminders-today" />`}
    ${state.week.length > 0 && html`<h3 class="section-title">${t('dealReminder.week')}</h3><${Items} items=${state.week} testid="deal-reminders-week" />`}
  </div>`;
}
