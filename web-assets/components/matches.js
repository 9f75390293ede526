// Product matching on the customer page: GET /api/v1/customers/{id}/matches, reloaded whenever the
// customer changes (the page passes its updated_at). Eligible products with the estimate and
// the plugin's note; products waiting for information with what to collect; near misses with
// what would change the answer; the rest folded, every failing requirement listed. The
// reasons are the server's (Chinese, with the customer's value and the bar).
import { useEffect, useState } from '../vendor/preact/hooks.module.js';
import { html } from '../html.js';
import { t } from '../i18n/index.js';
import { api } from '../api.js';
import { can } from '../auth.js';
import { errorText } from '../errors.js';
import { fenToWan, formatYuan } from '../money.js';

function Estimate({ e }) {
  if (!e) return null;
  const pay = e.payment_min_fen === e.payment_max_fen
    ? formatYuan(e.payment_min_fen)
    : `${formatYuan(e.payment_min_fen)} – ${formatYuan(e.payment_max_fen)}`;
  return html`<div class="match-estimate" data-testid="match-estimate">
    ${t('match.estimate', { amount: fenToWan(e.amount_fen), months: e.term_months, method: t(`calc.method.${e.method}`) })}
    <span class="muted"> · ${t('match.payment', { pay })}</span>
  </div>`;
}

function Findings({ items, kind }) {
  if (!items || !items.length) return null;
  return html`<ul class=${`match-findings match-${kind}`}>
    ${items.map((f) => html`<li key=${f.field + f.reason}>${f.reason}${f.hint ? html` — <strong>${f.hint}</strong>` : ''}</li>`)}
  </ul>`;
}

function Item({ m }) {
  return html`<li class=${`match-item match-${m.status}`} data-testid="match-item" data-status=${m.status}>
    <div class="match-head">
      <span class="match-name">${m.name}</span>
      <span class="muted">${m.lender} · ${t(`product.category.${m.category}`)}</span>
    </div>
    <${Estimate} e=${m.estimate} />
    ${m.notes.map((n) => html`<div class="muted" key=${n}>${n}</div>`)}
    ${m.status === 'needs_info' && html`<div class="match-label">${t('match.collect')}</div>`}
    <${Findings} items=${m.missing} kind="missing" />
    <${Findings} items=${m.failures} kind="failures" />
  </li>`;
}

export function MatchesCard({ customerId, version }) {
  const [state, setState] = useState({ status: 'loading' });
  useEffect(() => {
    let live = true;
    setState((s) => (s.status === 'ready' ? s : { status: 'loading' }));
    api('GET', `/api/v1/customers/${encodeURIComponent(customerId)}/matches`)
      .then((r) => live && setState({ status: 'ready', r }))
      .catch((e) => live && setState({ status: 'error', message: errorText(e) }));
    return () => { live = false; };
  }, [customerId, version]);
  let body;
  if (state.status === 'loading') body = html`<p class="muted">${t('common.loading')}</p>`;
  else if (state.status === 'error') body = html`<div class="form-error" role="alert">${state.message}</div>`;
  else {
    const { r } = state;
    const open = r.items.filter((m) => m.status !== 'ineligible');
    const near = r.items.filter((m) => m.status === 'ineligible' && m.near_miss);
    const rest = r.items.filter((m) => m.status === 'ineligible' && !m.near_miss);
    body = r.items.length === 0
      ? html`<p class="muted" data-testid="matches-empty">${t('match.noProducts')}
          ${can('product.manage') && html` <a href="/admin/products">${t('match.addProducts')}</a>`}</p>`
      : html`
        <p class="muted" data-testid="matches-summary">${t('match.summary', { eligible: r.eligible, info: r.needs_info, no: r.ineligible })}</p>
        ${r.plugin_error && html`<div class="form-error" role="alert" data-testid="matches-plugin-error">${t('match.pluginError', { error: r.plugin_error })}</div>`}
        ${open.length > 0 && html`<ul class="match-list">${open.map((m) => html`<${Item} key=${m.product_id} m=${m} />`)}</ul>`}
        ${near.length > 0 && html`<h3 class="match-section">${t('match.near')}</h3>
          <ul class="match-list">${near.map((m) => html`<${Item} key=${m.product_id} m=${m} />`)}</ul>`}
        ${rest.length > 0 && html`<details class="match-rest"><summary>${t('match.rest', { n: rest.length })}</summary>
          <ul class="match-list">${rest.map((m) => html`<${Item} key=${m.product_id} m=${m} />`)}</ul></details>`}`;
  }
  return html`<div class="card" data-testid="customer-matches">
    <h2 class="card-title">${t('match.title')}</h2>
    ${body}
  </div>`;
}
