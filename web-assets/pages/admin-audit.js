// /admin/audit — the audit log, newest first (capability audit.view):
// filter by action and by person (picked from the colleague directory),
// "load more" through next_cursor, ids shown by name where the reader may see
// them (the server's `names` for the ids on each page, in the reader's scope;
// departments and roles from what the page loads), details as labelled facts
// (components/audit-detail.js), the raw JSON one click away.
import { useEffect, useRef, useState } from '../vendor/preact/hooks.module.js';
import { html } from '../html.js';
import { t } from '../i18n/index.js';
import { api } from '../api.js';
import { can } from '../auth.js';
import { errorText } from '../errors.js';
import { formatDateTime, TIME_ZONE } from '../format.js';
import { EmptyState, LoadError, Loading } from '../components/states.js';
import { Icon } from '../components/icons.js';
import { loadRoles, roleLabel } from '../components/roles.js';
import { departmentPath } from '../components/departments.js';
import { loadDirectory } from '../components/customer-settings.js';
import { AuditDetail, nameOf } from '../components/audit-detail.js';

const PAGE_SIZE = 50;

/** Every action the server writes (store::audit::ACTIONS; i18n/check.mjs holds the two
 *  lists equal), with its label: the filter offers each. */
export const AUDIT_ACTIONS = [
  { action: 'auth.login', labelKey: 'audit.action.auth.login' },
  { action: 'auth.login_failed', labelKey: 'audit.action.auth.login_failed', tone: 'warning' },
  { action: 'auth.login_throttled', labelKey: 'audit.action.auth.login_throttled', tone: 'error' },
  { action: 'auth.logout', labelKey: 'audit.action.auth.logout' },
  { action: 'setup.completed', labelKey: 'audit.action.setup.completed' },
  { action: 'user.created', labelKey: 'audit.action.user.created' },
  { action: 'user.updated', labelKey: 'audit.action.user.updated' },
  { action: 'user.password_reset', labelKey: 'audit.action.user.password_reset' },
  { action: 'user.password_changed', labelKey: 'audit.action.user.password_changed' },
  { action: 'department.created', labelKey: 'audit.action.department.created' },
  { action: 'department.updated', labelKey: 'audit.action.department.updated' },
  { action: 'department.deleted', labelKey: 'audit.action.department.deleted' },
  { action: 'role.created', labelKey: 'audit.action.role.created' },
  { action: 'role.updated', labelKey: 'audit.action.role.updated' },
  { action: 'role.deleted', labelKey: 'audit.action.role.deleted' },
  { action: 'token.created', labelKey: 'audit.action.token.created' },
  { action: 'token.revoked', labelKey: 'audit.action.token.revoked' },
  { action: 'customer.created', labelKey: 'audit.action.customer.created' },
  { action: 'customer.updated', labelKey: 'audit.action.customer.updated' },
  { action: 'customer.deleted', labelKey: 'audit.action.customer.deleted' },
  { action: 'customer.revealed', labelKey: 'audit.action.customer.revealed', tone: 'warning' },
  { action: 'customer.number_lookups_exhausted', labelKey: 'audit.action.customer.number_lookups_exhausted', tone: 'warning' },
  { action: 'customer.exported', labelKey: 'audit.action.customer.exported', tone: 'warning' },
  { action: 'customer.export_refused', labelKey: 'audit.action.customer.export_refused', tone: 'error' },
  { action: 'report.exported', labelKey: 'audit.action.report.exported', tone: 'warning' },
  { action: 'user.departed', labelKey: 'audit.action.user.departed' },
  { action: 'customer.restored', labelKey: 'audit.action.customer.restored' },
  { action: 'customer.erased', labelKey: 'audit.action.customer.erased', tone: 'error' },
  { action: 'customer.purged', labelKey: 'audit.action.customer.purged' },
  { action: 'customer.imported', labelKey: 'audit.action.customer.imported' },
  { action: 'customer.transferred', labelKey: 'audit.action.customer.transferred' },
  { action: 'customer.bulk', labelKey: 'audit.action.customer.bulk' },
  { action: 'customer.consent_changed', labelKey: 'audit.action.customer.consent_changed', tone: 'warning' },
  { action: 'customer.claimed', labelKey: 'audit.action.customer.claimed' },
  { action: 'customer.released', labelKey: 'audit.action.customer.released' },
  { action: 'customer.recalled', labelKey: 'audit.action.customer.recalled' },
  { action: 'customer.locked', labelKey: 'audit.action.customer.locked' },
  { action: 'customer.unlocked', labelKey: 'audit.action.customer.unlocked' },
  { action: 'customer.assigned', labelKey: 'audit.action.customer.assigned' },
  { action: 'followup.edited', labelKey: 'audit.action.followup.edited' },
  { action: 'custom_field.created', labelKey: 'audit.action.custom_field.created' },
  { action: 'custom_field.updated', labelKey: 'audit.action.custom_field.updated' },
  { action: 'custom_field.deleted', labelKey: 'audit.action.custom_field.deleted' },
  { action: 'tag_group.saved', labelKey: 'audit.action.tag_group.saved' },
  { action: 'tag_group.deleted', labelKey: 'audit.action.tag_group.deleted' },
  { action: 'import_template.created', labelKey: 'audit.action.import_template.created' },
  { action: 'import_template.deleted', labelKey: 'audit.action.import_template.deleted' },
  { action: 'pool.created', labelKey: 'audit.action.pool.created' },
  { action: 'transfer.requested', labelKey: 'audit.action.transfer.requested' },
  { action: 'transfer.approved', labelKey: 'audit.action.transfer.approved' },
  { action: 'transfer.rejected', labelKey: 'audit.action.transfer.rejected' },
  { action: 'backup.settings_changed', labelKey: 'audit.action.backup.settings_changed' },
  { action: 'product.created', labelKey: 'audit.action.product.created' },
  { action: 'product.updated', labelKey: 'audit.action.product.updated' },
  { action: 'product.activated', labelKey: 'audit.action.product.activated' },
  { action: 'product.deactivated', labelKey: 'audit.action.product.deactivated' },
  { action: 'deal.created', labelKey: 'audit.action.deal.created' },
  { action: 'deal.updated', labelKey: 'audit.action.deal.updated' },
  { action: 'deal.stage_changed', labelKey: 'audit.action.deal.stage_changed' },
  { action: 'deal.override', labelKey: 'audit.action.deal.override' },
  { action: 'document.added', labelKey: 'audit.action.document.added' },
  { action: 'document.removed', labelKey: 'audit.action.document.removed' },
  { action: 'document.received', labelKey: 'audit.action.document.received' },
  { action: 'document.lent_out', labelKey: 'audit.action.document.lent_out' },
  { action: 'document.returned', labelKey: 'audit.action.document.returned' },
  { action: 'document.lost', labelKey: 'audit.action.document.lost', tone: 'error' },
  { action: 'document.attached', labelKey: 'audit.action.document.attached' },
  { action: 'document.exported', labelKey: 'audit.action.document.exported' },
  { action: 'lead.checked', labelKey: 'audit.action.lead.checked' },
  { action: 'application_form.created', labelKey: 'audit.action.application_form.created' },
  { action: 'application_form.updated', labelKey: 'audit.action.application_form.updated' },
  { action: 'customer.applied', labelKey: 'audit.action.customer.applied' },
  { action: 'fee.payment', labelKey: 'audit.action.fee.payment' },
  { action: 'fee.refund', labelKey: 'audit.action.fee.refund', tone: 'warning' },
  { action: 'fee.waived', labelKey: 'audit.action.fee.waived', tone: 'warning' },
  { action: 'fee.recomputed', labelKey: 'audit.action.fee.recomputed', tone: 'warning' },
  { action: 'fee.rebate_received', labelKey: 'audit.action.fee.rebate_received' },
  { action: 'fee.payment_removed', labelKey: 'audit.action.fee.payment_removed', tone: 'warning' },
  { action: 'broker.referral', labelKey: 'audit.action.broker.referral' },
  { action: 'broker.fee_due', labelKey: 'audit.action.broker.fee_due' },
  { action: 'broker.fee_paid', labelKey: 'audit.action.broker.fee_paid' },
  { action: 'broker.fee_voided', labelKey: 'audit.action.broker.fee_voided' },
  { action: 'month.closed', labelKey: 'audit.action.month.closed' },
  { action: 'month.reopened', labelKey: 'audit.action.month.reopened', tone: 'warning' },
  { action: 'target.set', labelKey: 'audit.action.target.set' },
  { action: 'contract_template.created', labelKey: 'audit.action.contract_template.created' },
  { action: 'contract_template.updated', labelKey: 'audit.action.contract_template.updated' },
  { action: 'contract.created', labelKey: 'audit.action.contract.created' },
  { action: 'contract.link_issued', labelKey: 'audit.action.contract.link_issued' },
  { action: 'contract.voided', labelKey: 'audit.action.contract.voided' },
  { action: 'contract.signed', labelKey: 'audit.action.contract.signed' },
  { action: 'call.ingested', labelKey: 'audit.action.call.ingested' },
  { action: 'call.attached', labelKey: 'audit.action.call.attached' },
  { action: 'call.recording_added', labelKey: 'audit.action.call.recording_added' },
  { action: 'call.recording_played', labelKey: 'audit.action.call.recording_played' },
  { action: 'call.dialed', labelKey: 'audit.action.call.dialed' },
  { action: 'channel.created', labelKey: 'audit.action.channel.created' },
  { action: 'channel.updated', labelKey: 'audit.action.channel.updated' },
  { action: 'channel.cost_set', labelKey: 'audit.action.channel.cost_set' },
  { action: 'pool.updated', labelKey: 'audit.action.pool.updated' },
  { action: 'pool.deleted', labelKey: 'audit.action.pool.deleted' },
  { action: 'pool.swept', labelKey: 'audit.action.pool.swept' },
  { action: 'assignment.user_updated', labelKey: 'audit.action.assignment.user_updated' },
  { action: 'plugin.saved', labelKey: 'audit.action.plugin.saved', tone: 'warning' },
  { action: 'plugin.deleted', labelKey: 'audit.action.plugin.deleted', tone: 'warning' },
  { action: 'plugin.disk_edit', labelKey: 'audit.action.plugin.disk_edit', tone: 'warning' },
  { action: 'key.rotated', labelKey: 'audit.action.key.rotated', tone: 'warning' },
  { action: 'audit.chain_keyed', labelKey: 'audit.action.audit.chain_keyed' },
  { action: 'backup.requested', labelKey: 'audit.action.backup.requested' },
  { action: 'backup.completed', labelKey: 'audit.action.backup.completed' },
  { action: 'backup.failed', labelKey: 'audit.action.backup.failed', tone: 'error' },
  { action: 'backup.snapshot', labelKey: 'audit.action.backup.snapshot' },
];
const ACTION_INDEX = new Map(AUDIT_ACTIONS.map((a) => [a.action, a]));

export function actionLabel(action) {
  const known = ACTION_INDEX.get(action);
  return known ? t(known.labelKey) : action;
}

function ActionCell({ action }) {
  const known = ACTION_INDEX.get(action);
  return html`<span class=${`tag tag-action tone-${known?.tone || 'default'}`} data-action=${action}>${actionLabel(action)}</span>
    <div class="cell-sub mono">${action}</div>`;
}

/** A readable name for an entry's target, from what the page has loaded. */
function targetName(entry, ctx) {
  const { target, action, detail } = entry;
  if (!target) return null;
  const named = ctx.names?.get(target);
  if (named) return named;
  const kind = action.split('.')[0];
  if (kind === 'user' || kind === 'setup') {
    const u = ctx.users?.get(target);
    if (u) return `${u.display_name} (${u.username})`;
    return detail?.username || null;
  }
  if (kind === 'department') {
    return (ctx.departments && departmentPath(ctx.departments, target)) || detail?.name || null;
  }
  if (kind === 'role') return roleLabel(target);
  if (kind === 'token') return detail?.name || null;
  if (kind === 'customer') return ctx.customers?.get(target) || null;
  if (kind === 'followup') {
    const name = detail?.customer_id && ctx.customers?.get(detail.customer_id);
    return name ? t('audit.target.followupOf', { name }) : null;
  }
  if (kind === 'pool') return ctx.pools?.get(target) || detail?.name || null;
  if (kind === 'import_template' || kind === 'custom_field' || kind === 'tag_group') return detail?.name || detail?.label || null;
  if (kind === 'assignment') return ctx.directory?.get(target) || null;
  return null;
}

/** Entries without an actor id: the operator's CLI, the system, or someone not logged in. */
function actorKind(actor) {
  if (actor === 'operator') return t('audit.actor.operator');
  if (actor === 'system') return t('audit.actor.system');
  return t('audit.actor.anonymous');
}

export function AdminAuditPage() {
  // `who`: '' (anyone), `id:<user id>` (a colleague) or `name:<actor>` (system, operator).
  const [filters, setFilters] = useState({ action: '', who: '' }); // applied
  const [draft, setDraft] = useState({ action: '', who: '' }); // in the form
  const [state, setState] = useState({ status: 'loading', items: [], cursor: null });
  const [more, setMore] = useState({ busy: false, error: null });
  const [ctx, setCtx] = useState({});
  const request = useRef(0);

  // Names for targets: departments and roles are readable by everyone,
  // users only with user.manage.
  useEffect(() => {
    Promise.all([
      api('GET', '/api/v1/departments').then((d) => d.items).catch(() => null),
      can('user.manage') ? api('GET', '/api/v1/users').then((d) => d.items).catch(() => null) : null,
      loadRoles().catch(() => null),
      loadDirectory().catch(() => []),
      api('GET', '/api/v1/pools').then((d) => (Array.isArray(d) ? d : d.items)).catch(() => null),
    ]).then(([departments, users, , directory, pools]) => {
      setCtx((c) => ({
        ...c,
        departments,
        users: users ? new Map(users.map((u) => [u.id, u])) : null,
        directory: new Map((directory || []).map((u) => [u.id, u.display_name])),
        people: directory || [],
        pools: pools ? new Map(pools.map((p) => [p.id, p.name])) : null,
      }));
    });
  }, []);

  // Names for the ids on each page come with it (customers and deals only those the
  // reader may see).
  const addNames = (page) => setCtx((c) => ({
    ...c,
    names: new Map([...(c.names || new Map()), ...Object.entries(page.names || {})]),
    customers: new Map([...(c.customers || new Map()), ...Object.entries(page.customer_names || {})]),
  }));

  const fetchPage = (applied, cursor) => {
    const params = new URLSearchParams({ limit: String(PAGE_SIZE) });
    if (applied.action) params.set('action', applied.action);
    if (applied.who.startsWith('id:')) params.set('actor_id', applied.who.slice(3));
    if (applied.who.startsWith('name:')) params.set('actor', applied.who.slice(5));
    if (cursor) params.set('cursor', cursor);
    return api('GET', `/api/v1/audit?${params}`);
  };

  const load = async (applied) => {
    const id = ++request.current;
    setState({ status: 'loading', items: [], cursor: null });
    setMore({ busy: false, error: null });
    try {
      const page = await fetchPage(applied);
      if (id !== request.current) return;
      setState({ status: 'ready', items: page.items, cursor: page.next_cursor, total: page.total });
      addNames(page);
    } catch (error) {
      if (id !== request.current) return;
      setState({ status: 'error', error, items: [], cursor: null });
    }
  };
  useEffect(() => {
    load(filters);
  }, [filters]);

  const loadMore = async () => {
    const id = request.current;
    setMore({ busy: true, error: null });
    try {
      const page = await fetchPage(filters, state.cursor);
      if (id !== request.current) return;
      setState((s) => ({ ...s, items: [...s.items, ...page.items], cursor: page.items.length ? page.next_cursor : null }));
      addNames(page);
      setMore({ busy: false, error: null });
    } catch (error) {
      if (id !== request.current) return;
      setMore({ busy: false, error });
    }
  };

  const apply = (next) => {
    const clean = { action: next.action, who: next.who };
    setDraft(clean);
    if (clean.action === filters.action && clean.who === filters.who) load(clean);
    else setFilters(clean);
  };
  const filtered = Boolean(filters.action || filters.who);

  let body;
  if (state.status === 'loading') body = html`<${Loading} testid="audit-loading" />`;
  else if (state.status === 'error') body = html`<${LoadError} error=${state.error} onRetry=${() => load(filters)} testid="audit-error" />`;
  else if (!state.items.length) {
    body = filtered
      ? html`<${EmptyState} icon="search" title=${t('audit.empty.filteredTitle')} body=${t('audit.empty.filteredBody')} testid="audit-empty" />`
      : html`<${EmptyState} icon="audit" title=${t('audit.empty.title')} body=${t('audit.empty.body')} testid="audit-empty" />`;
  } else {
    body = html`<div class="table-wrap">
      <table class="table table-audit" data-testid="audit-table">
        <thead><tr>
          <th scope="col">${t('audit.col.time')}</th>
          <th scope="col">${t('audit.col.actor')}</th>
          <th scope="col">${t('audit.col.action')}</th>
          <th scope="col">${t('audit.col.target')}</th>
          <th scope="col">${t('audit.col.source')}</th>
          <th scope="col">${t('audit.col.detail')}</th>
        </tr></thead>
        <tbody>
          ${state.items.map((e) => {
            const user = e.actor_id ? ctx.users?.get(e.actor_id) : null;
            const actorName = user?.display_name || (e.actor_id && nameOf(e.actor_id, ctx));
            const target = targetName(e, ctx);
            return html`<tr key=${e.seq} data-testid="audit-row" data-action=${e.action} data-seq=${e.seq}>
              <td class="nowrap mono-num">${formatDateTime(e.at)}</td>
              <td class="nowrap">
                ${actorName ? html`<span data-testid="audit-actor-name">${actorName}</span><div class="cell-sub mono">${e.actor}</div>` : html`<span class="mono">${e.actor}</span>`}
                ${!e.actor_id && html`<div class="cell-sub">${actorKind(e.actor)}</div>`}
              </td>
              <td><${ActionCell} action=${e.action} /></td>
              <td class="cell-target" title=${e.target || undefined} data-testid="audit-target">
                ${e.target
                  ? html`${target || html`<span class="mono">${e.target}</span>`}${target && html`<div class="cell-sub mono">${e.target}</div>`}`
                  : html`<span class="muted">—</span>`}
              </td>
              <td class="mono nowrap">${e.source}</td>
              <td class="cell-detail"><${AuditDetail} entry=${e} ctx=${ctx} /></td>
            </tr>`;
          })}
        </tbody>
      </table>
    </div>
    <div class="list-foot">
      <span class="muted" data-testid="audit-shown">${t('audit.shown', { count: state.items.length })}</span>
      ${more.error && html`<span class="field-error" role="alert">${errorText(more.error)}</span>`}
      ${state.cursor
        ? html`<button type="button" class="btn" onClick=${loadMore} disabled=${more.busy} data-testid="audit-more">
            ${more.busy ? t('common.loading') : t('audit.loadMore')}</button>`
        : html`<span class="muted" data-testid="audit-end">${t('audit.end')}</span>`}
    </div>`;
  }

  return html`<section class="page page-wide" data-testid="page-admin-audit">
    <header class="page-header">
      <h1 class="page-title">${t('audit.title')}</h1>
      <p class="page-subtitle">${t('audit.subtitle', { zone: TIME_ZONE })}</p>
    </header>
    <div class="card card-flush">
      <form class="toolbar" role="search" aria-label=${t('audit.filters')} data-testid="audit-filters"
        onSubmit=${(e) => { e.preventDefault(); apply(draft); }}>
        <label class="toolbar-field">
          <span>${t('audit.filter.action')}</span>
          <select class="input input-sm select" value=${draft.action} data-testid="audit-filter-action"
            onChange=${(e) => apply({ ...draft, action: e.currentTarget.value })}>
            <option value="">${t('audit.filter.allActions')}</option>
            ${AUDIT_ACTIONS.map((a) => html`<option key=${a.action} value=${a.action}>${t(a.labelKey)}</option>`)}
          </select>
        </label>
        <label class="toolbar-field">
          <span>${t('audit.filter.actor')}</span>
          <select class="input input-sm select" value=${draft.who} data-testid="audit-filter-actor"
            onChange=${(e) => apply({ ...draft, who: e.currentTarget.value })}>
            <option value="">${t('audit.filter.anyone')}</option>
            <optgroup label=${t('audit.filter.people')}>
              ${(ctx.people || []).map((u) => html`<option key=${u.id} value=${`id:${u.id}`}>${u.status === 'active'
                ? u.display_name : t('audit.filter.departed', { name: u.display_name })}</option>`)}
            </optgroup>
            <optgroup label=${t('audit.filter.others')}>
              <option value="name:system">${t('audit.actor.system')}</option>
              <option value="name:operator">${t('audit.actor.operator')}</option>
            </optgroup>
          </select>
        </label>
        <button type="submit" class="btn btn-sm btn-primary" data-testid="audit-apply">
          <${Icon} name="search" size=${15} /><span>${t('audit.filter.apply')}</span></button>
        ${filtered && html`<button type="button" class="btn btn-sm" data-testid="audit-reset"
          onClick=${() => apply({ action: '', who: '' })}>${t('audit.filter.reset')}</button>`}
        <div class="toolbar-spacer"></div>
        <button type="button" class="btn btn-sm" onClick=${() => load(filters)} disabled=${state.status === 'loading'}
          data-testid="audit-refresh"><${Icon} name="refresh" size=${15} /><span>${t('system.refresh')}</span></button>
      </form>
      ${body}
    </div>
  </section>`;
}
