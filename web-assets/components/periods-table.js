// A repayment schedule's periods as a table (no., date, payment, principal, interest,
// balance), scrolling inside its region on a narrow screen. Used by the calculator and by a
// disbursed deal's page; `rowTestid` names the rows for journeys.
import { html } from '../html.js';
import { t } from '../i18n/index.js';
import { formatYuan } from '../money.js';

export function PeriodsTable({ periods, label, rowTestid, wrapClass = '' }) {
  return html`<div class=${`table-wrap ${wrapClass}`.trim()} tabindex="0" role="region" aria-label=${label}>
    <table class="table table-keep calc-table">
      <thead><tr>
        <th scope="col">${t('calc.col.no')}</th>
        <th scope="col">${t('calc.col.date')}</th>
        <th scope="col" class="num">${t('calc.col.payment')}</th>
        <th scope="col" class="num">${t('calc.col.principal')}</th>
        <th scope="col" class="num">${t('calc.col.interest')}</th>
        <th scope="col" class="num">${t('calc.col.balance')}</th>
      </tr></thead>
      <tbody>
        ${periods.map((p) => html`<tr key=${p.no} data-testid=${rowTestid}>
          <td class="num">${p.no}</td>
          <td class="nowrap mono-num">${p.date}</td>
          <td class="num">${formatYuan(p.payment_fen)}</td>
          <td class="num">${formatYuan(p.principal_fen)}</td>
          <td class="num">${formatYuan(p.interest_fen)}</td>
          <td class="num">${formatYuan(p.balance_fen)}</td>
        </tr>`)}
      </tbody>
    </table>
  </div>`;
}
