// An audit entry's detail as labelled facts: money in yuan, basis points as
// percent, months, times in Beijing time, ids as names, enums with their labels;
// nested objects as nested facts; the raw JSON one click away. Formats come from
// two tables: by key (shared across actions: every *_fen is money) and by action
// (where a key means something else there: deal.stage_changed's from/to are
// stages). A key neither table knows still shows, labelled by itself.
import { html } from '../html.js';
import { has, t } from '../i18n/index.js';
import { formatDateTime } from '../format.js';
import { formatBpPercent, formatYuan } from '../money.js';
import { roleLabel } from './roles.js';
import { departmentPath } from './departments.js';

const money = (v) => (typeof v === 'number' ? `¥${formatYuan(v)}` : null);
const percent = (v) => (typeof v === 'number' ? formatBpPercent(v) : null);
const months = (v) => (typeof v === 'number' ? t('audit.value.months', { n: v }) : null);
const seconds = (v) => (typeof v === 'number' ? t('audit.value.seconds', { n: v }) : null);
const ms = (v) => (typeof v === 'number' ? t('audit.value.seconds', { n: (v / 1000).toFixed(1) }) : null);
const time = (v) => (typeof v === 'string' && /^\d{4}-\d\d-\d\dT/.test(v) ? formatDateTime(v) : null);
const bytes = (v) => {
  if (typeof v !== 'number') return null;
  if (v >= 1024 * 1024) return t('audit.value.mb', { n: (v / 1024 / 1024).toFixed(1) });
  if (v >= 1024) return t('audit.value.kb', { n: (v / 1024).toFixed(1) });
  return t('audit.value.bytes', { n: v });
};
/** A value's label under the first prefix that has one ('deals.stage' + 'signed'). */
const enumOf = (...prefixes) => (v) => {
  if (typeof v !== 'string') return null;
  const p = prefixes.find((x) => has(`${x}.${v}`));
  return p ? t(`${p}.${v}`) : null;
};
/** A role: a commission line's (officer, assistant) or an account's. */
const role = (v) => (typeof v === 'string' ? enumOf('commissions.role')(v) || roleLabel(v) : null);
const dealStage = enumOf('deals.stage');
const customerStage = enumOf('stage', 'deals.stage');
/** A list of field names, each labelled as a detail key is. */
const fieldNames = (v) => (Array.isArray(v) ? v.map((k) => keyLabel(null, String(k))).join(t('list.separator')) : null);
const department = (v, ctx) => (typeof v === 'string' && ctx.departments ? departmentPath(ctx.departments, v) || null : null);
/** The agency's service fee: { kind: fixed, amount_fen } or { kind: rate, rate_bp }. */
const serviceFee = (v) => {
  if (!v || typeof v !== 'object') return v === null ? t('audit.value.none') : null;
  if (v.kind === 'fixed') return t('audit.value.fixed', { amount: formatYuan(v.amount_fen) });
  if (v.kind === 'rate') return t('audit.value.rate', { rate: formatBpPercent(v.rate_bp) });
  return null;
};

/** Formats of keys shared across actions (the same key means the same thing). */
const BY_KEY = {
  role,
  roles: (v) => (Array.isArray(v) ? v.map((r) => roleLabel(r)).join(t('list.separator')) : null),
  capabilities: (v) => (Array.isArray(v) ? v.map((c) => enumOf('cap')(c) || c).join(t('list.separator')) : null),
  field_privileges: (v) => (Array.isArray(v) ? v.map((c) => enumOf('priv')(c) || c).join(t('list.separator')) : null),
  scope: enumOf('scope'),
  stage: customerStage,
  method: enumOf('fees.method', 'calc.method'),
  status: enumOf('users.status', 'documents.status', 'plugins.status'),
  category: enumOf('product.category'),
  result: enumOf('calls.result'),
  trigger: enumOf('backup.trigger'),
  on_duplicate: enumOf('import.onDuplicate'),
  basis: enumOf('cx.consent.basis'),
  changed: fieldNames,
  fields: fieldNames,
  department_id: department,
  parent_id: department,
  department,
  size: bytes,
  size_bytes: bytes,
  duration_ms: ms,
  retry_after_secs: seconds,
  term_months: months,
};

/** Formats by the key's ending, for keys not in BY_KEY. */
const BY_SUFFIX = [
  [/_fen$/, money],
  [/_bp$/, percent],
  [/_months$/, months],
  [/(_at|^at|^as_of)$/, time],
];

/** Where a key means something else in one action (or under one parent key). */
const BY_ACTION = {
  'deal.stage_changed': { from: dealStage, to: dealStage },
  'deal.override': { to: dealStage },
  'customer.bulk': { action: enumOf('cx.bulk.action'), stage: customerStage },
  'custom_field.created': { kind: enumOf('customSettings.kind') },
  'custom_field.updated': { kind: enumOf('customSettings.kind') },
  'channel.created': { kind: enumOf('channels.kind') },
  'channel.updated': { kind: enumOf('channels.kind') },
  'contract_template.created': { kind: enumOf('templates.kind') },
  'fee.recomputed': { 'product_fee.from': serviceFee, 'product_fee.to': serviceFee },
  'fee.refund': { 'lines.kind': enumOf('commissions.kind') },
};

/** Keys an action's reader looks at first, in this order (the server's JSON comes sorted by
 *  key); other keys follow in their own order, empty values last. */
const FIRST = {
  'deal.stage_changed': ['from', 'to', 'disbursement', 'approval', 'reason', 'note'],
  'deal.override': ['rule', 'to', 'reason'],
  'deal.created': ['customer_id', 'product_id', 'amount_fen', 'term_months', 'officer_id'],
  'fee.payment': ['payment', 'balance_fen', 'lines'],
  'fee.payment_removed': ['payment', 'reason', 'balance_fen'],
  'fee.refund': ['refund', 'balance_fen', 'lines'],
  'fee.waived': ['waiver', 'balance_fen'],
  'fee.rebate_received': ['receipt', 'rebate_balance_fen'],
  'fee.recomputed': ['from_fen', 'to_fen', 'reason', 'rule'],
  'payment': ['amount_fen', 'paid_on', 'method', 'payer', 'receipt_no'],
  'refund': ['amount_fen', 'refunded_on', 'reason'],
  'waiver': ['amount_fen', 'reason'],
  'receipt': ['amount_fen', 'received_on', 'receipt_no'],
  'disbursement': ['amount_fen', 'rate_bp', 'term_months', 'method', 'disbursed_on'],
  'approval': ['amount_fen', 'rate_bp', 'term_months'],
  'customer.transferred': ['from', 'to'],
  'customer.assigned': ['to', 'from', 'mode', 'reason'],
  'user.updated': ['username', 'changed', 'before', 'after'],
  'user.departed': ['username', 'successor', 'customers_moved'],
  'broker.fee_due': ['broker_id', 'amount_fen', 'base_fen', 'month'],
  'channel.cost_set': ['name', 'month', 'cost_fen', 'before_fen'],
};

const isEmpty = (v) => v == null || v === '' || (Array.isArray(v) && !v.length);

/** An object's entries in reading order: the action's (or the parent key's) first keys, the
 *  rest as they come, empty values last. */
function ordered(action, parent, obj) {
  const first = FIRST[parent ? parent.split('.').pop() : action] || [];
  const rank = ([k, v]) => {
    const i = first.indexOf(k);
    return i >= 0 ? i : first.length + (isEmpty(v) ? 1 : 0);
  };
  return Object.entries(obj)
    .map((e, i) => [e, i])
    .sort(([a, i], [b, j]) => rank(a) - rank(b) || i - j)
    .map(([e]) => e);
}

/** Objects whose keys are values themselves (a pool's days per customer stage). */
const KEYS_OF = {
  no_followup_days: customerStage,
};

function keyLabel(action, key, path) {
  const parentKey = path?.split('.').slice(-2, -1)[0];
  if (parentKey && KEYS_OF[parentKey]) return KEYS_OF[parentKey](key) || key;
  const scoped = [action && path && `audit.detail.at.${action}.${path}`, path && `audit.detail.at.${path}`, action && `audit.detail.at.${action}.${key}`]
    .filter(Boolean).find((k) => has(k));
  if (scoped) return t(scoped);
  return has(`audit.detail.key.${key}`) ? t(`audit.detail.key.${key}`) : key;
}

/** An id as the name the page knows for it (the server's `names`, then what the page loaded). */
export function nameOf(id, ctx) {
  if (typeof id !== 'string') return null;
  return ctx.names?.get(id) || ctx.directory?.get(id) || ctx.pools?.get(id) || ctx.customers?.get(id) || null;
}

function formatterFor(action, key, path) {
  const own = BY_ACTION[action];
  if (own && path in own) return own[path];
  if (own && key in own && own[key]) return own[key];
  if (key in BY_KEY && BY_KEY[key]) return BY_KEY[key];
  const suffix = BY_SUFFIX.find(([re]) => re.test(key));
  return suffix ? suffix[1] : null;
}

/** One value as text, or null when it is an object or list of objects (shown nested). */
function scalar(v, ctx) {
  if (v == null || v === '') return '—';
  if (typeof v === 'boolean') return v ? t('common.yes') : t('common.no');
  if (typeof v === 'string') return nameOf(v, ctx) || v;
  if (typeof v === 'number') return String(v);
  if (Array.isArray(v) && v.every((x) => x === null || typeof x !== 'object')) {
    return v.length ? v.map((x) => scalar(x, ctx)).join(t('list.separator')) : t('audit.value.none');
  }
  return null;
}

/** The facts of an object: [{ key, label, text | facts | rows }], in the entry's own order. */
export function factsOf(action, obj, ctx, parent = '') {
  // A nested record's own id (a payment's, a waiver's) names nothing a reader can look up;
  // it stays in the raw JSON.
  const entries = ordered(action, parent, obj).filter(([key]) => !(parent && key === 'id'));
  return entries.map(([key, v]) => {
    const path = parent ? `${parent}.${key}` : key;
    const label = keyLabel(action, key, path);
    const format = formatterFor(action, key, path);
    const formatted = format ? format(v, ctx) : null;
    if (formatted != null) return { key, path, label, text: formatted };
    const text = scalar(v, ctx);
    if (text != null) return { key, path, label, text, id: typeof v === 'string' && text !== v ? v : null };
    if (Array.isArray(v)) {
      return { key, path, label, rows: v.map((x) => (x && typeof x === 'object' ? factsOf(action, x, ctx, path) : [{ key: '', label: '', text: scalar(x, ctx) }])) };
    }
    return { key, path, label, facts: factsOf(action, v, ctx, path) };
  });
}

function Facts({ facts, nested }) {
  return html`<dl class=${`audit-facts${nested ? ' audit-facts-nested' : ''}`} data-testid=${nested ? undefined : 'audit-facts'}>
    ${facts.map((f) => html`<div key=${f.path}>
      <dt title=${f.path}>${f.label}</dt>
      <dd data-key=${f.path} title=${f.id || undefined}>${f.text != null
        ? f.text
        : f.rows
          ? (f.rows.length
            ? html`<ol class="audit-rows">${f.rows.map((r, i) => html`<li key=${i}>${r.length === 1 && !r[0].key ? r[0].text : html`<${Facts} facts=${r} nested />`}</li>`)}</ol>`
            : t('audit.value.none'))
          : html`<${Facts} facts=${f.facts} nested />`}</dd>
    </div>`)}
  </dl>`;
}

/** The detail cell: labelled facts, then the raw JSON behind its toggle (audit.detail.raw). */
export function AuditDetail({ entry, ctx }) {
  const { detail, action } = entry;
  if (detail == null || (typeof detail === 'object' && !Array.isArray(detail) && !Object.keys(detail).length)) {
    return html`<span class="muted">—</span>`;
  }
  const isObject = typeof detail === 'object' && !Array.isArray(detail);
  const facts = isObject ? factsOf(action, detail, ctx) : [];
  return html`${facts.length > 0 && html`<${Facts} facts=${facts} />`}
    <details class="json-detail" data-testid="audit-detail">
      <summary title=${t('audit.detail.expand')}>${facts.length ? t('audit.detail.raw') : html`<code>${JSON.stringify(detail)}</code>`}</summary>
      <pre data-testid="audit-raw">${JSON.stringify(detail, null, 2)}</pre>
    </details>`;
}
