// My commission (/commissions): a user's commission lines of a month (commission, clawback, adjustment)
// with totals and an XLSX export. Everyone sees their own; holders of finance.read may pick a
// colleague of their scope (others answer 404).
import { useEffect, useState } from '../vendor/preact/hooks.module.js';
import { html } from '../html.js';
import { t } from '../i18n/index.js';
import { api } from '../api.js';
import { can, session } from '../auth.js';
import { todayIso } from '../format.js';
import { EmptyState, LoadError, Loading } from '../components/states.js';
import { SelectField } from '../components/form.js';
import { Icon } from '../components/icons.js';
import { loadDirectory } from '../components/customer-settings.js';
import { yuan } from '../components/fees.js';

export function CommissionsPage() {
  const me = session.value ? session.value.id : '';
  const [month, setMonth] = useState(todayIso().slice(0, 7));
  const [user, setUser] = useState(me);
  const [users, setUsers] = useState([]);
  const [state, setState] = useState({ status: 'loading' });
  const query = `user=${encodeURIComponent(user)}&month=${month}`;
  const load = async () => {
    setState({ status: 'loading' });
    try {
      setState({ status: 'ready', s: await api('GET', `/api/v1/commissions/statement?${query}`) });
    } catch (error) {
      setState({ status: 'error', error });
    }
  };
  useEffect(() => { load(); }, [query]);
  useEffect(() => {
    if (can('finance.read')) loadDirectory().then((l) => setUsers(Array.isArray(l) ? l : []));
  }, []);
  const s = state.s;
  return html`<section class="page page-wide" data-testid="page-commissions">
    <header class="page-header"><h1 class="page-title">${t('nav.commissions')}</h1>
      <p class="page-subtitle">${t('commissions.subtitle')}</p></header>
    <div class="month-picker">
      <div class="field"><label class="field-label" for="commission-month">${t('finance.month')}</label>
        <input class="input" id="commission-month" type="month" value=${month} data-testid="commission-month"
          onChange=${(e) => e.currentTarget.value && setMonth(e.currentTarget.value)} /></div>
      ${users.length > 0 && html`<${SelectField} id="commission-user" label=${t('commissions.user')} value=${user}
        onChange=${setUser} testid="commission-user"
        options=${users.map((u) => ({ value: u.id, label: u.display_name }))} />`}
      <a class="btn" href=${`/api/v1/commissions/statement.xlsx?${query}`} download data-testid="commission-export">${t('commissions.export')}</a>
    </div>
    ${state.status === 'loading' ? html`<${Loading} />`
      : state.status === 'error' ? html`<${LoadError} error=${state.error} onRetry=${load} />`
      : html`
      <div class="finance-totals">
        <div><span class="muted">${t('commissions.total')}</span><strong data-testid="commission-total">${yuan(s.total_fen)}</strong></div>
        <div><span class="muted">${t('commissions.kind.commission')}</span><strong>${yuan(s.commission_fen)}</strong></div>
        <div><span class="muted">${t('commissions.kind.clawback')}</span><strong>${yuan(s.clawback_fen)}</strong></div>
        <div><span class="muted">${t('commissions.kind.adjustment')}</span><strong>${yuan(s.adjustment_fen)}</strong></div>
        ${s.closed && html`<div><span class="tag tag-muted" data-testid="commission-locked" title=${s.hash || ''}>
          <${Icon} name="lock" size=${12} /> ${t('finance.closed')}</span></div>`}
      </div>
      ${s.lines.length === 0
        ? html`<${EmptyState} title=${t('commissions.empty')} testid="commission-empty" />`
        : html`<div class="card card-flush"><div class="table-wrap"><table class="table">
          <thead><tr><th>${t('finance.col.date')}</th><th>${t('commissions.col.deal')}</th><th>${t('commissions.col.role')}</th>
            <th>${t('finance.col.kind')}</th><th class="money">${t('finance.col.amount')}</th><th>${t('commissions.col.rule')}</th></tr></thead>
          <tbody>${s.lines.map((l) => html`<tr key=${l.id} data-testid="commission-line" data-kind=${l.kind}>
            <td>${l.on}</td><td><a href=${`/deals/${encodeURIComponent(l.deal_id)}`} data-testid="commission-deal">${s.deals && s.deals[l.deal_id]
              ? `${s.deals[l.deal_id].customer_name} · ${s.deals[l.deal_id].product_name}` : t('commissions.dealLink')}</a></td>
            <td>${t(`commissions.role.${l.role}`) === `commissions.role.${l.role}` ? l.role : t(`commissions.role.${l.role}`)}</td>
            <td>${t(`commissions.kind.${l.kind}`)}</td>
            <td class="money" data-testid="commission-amount">${yuan(l.amount_fen)}</td>
            <td>${l.rule}</td>
          </tr>`)}</tbody>
        </table></div></div>`}`}
  </section>`;
}
