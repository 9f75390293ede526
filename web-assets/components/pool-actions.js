// Pool actions on the customer detail page: release to the public pool (with a
// required reason; the owner, or a manager with customer.transfer), lock /
// unlock against recall (the owner only; unlocking asks first, each says it is done), and claim when the customer waits in
// a pool. Each calls its endpoint and hands the updated customer back.
import { useState } from '../vendor/preact/hooks.module.js';
import { html } from '../html.js';
import { t } from '../i18n/index.js';
import { api } from '../api.js';
import { can, session } from '../auth.js';
import { FormDialog, ConfirmDialog } from './dialog.js';
import { Icon } from './icons.js';
import { toast } from './toast.js';
import { poolErrorText } from '../pages/pools.js';

/** One tap for the usual reasons a customer goes back to the pool (the text can still be edited). */
const QUICK_REASONS = ['customer.release.quick.unreachable', 'customer.release.quick.noNeed',
  'customer.release.quick.notQualified', 'customer.release.quick.elsewhere'];

function ReleaseDialog({ customer, onClose, onDone }) {
  const [reason, setReason] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const submit = async () => {
    if (!reason.trim()) {
      setError(t('customer.release.reasonRequired'));
      return;
    }
    setBusy(true);
    setError(null);
    try {
      onDone(await api('POST', `/api/v1/customers/${encodeURIComponent(customer.id)}/release`, { reason: reason.trim() }));
    } catch (e) {
      setBusy(false);
      setError(poolErrorText(e));
    }
  };
  return html`<${FormDialog} title=${t('customer.release')} onClose=${onClose} onSubmit=${submit} busy=${busy}
    error=${error} testid="release-dialog" submitLabel=${t('customer.release')} danger=${true}>
    <div class="field">
      <label class="field-label" for="release-reason">${t('customer.release.reason')}</label>
      <div class="chip-row" data-testid="release-quick">
        ${QUICK_REASONS.map((k) => html`<button type="button" class="btn btn-sm" key=${k}
          onClick=${() => { setReason(t(k)); setError(null); }} data-testid="release-quick-reason">${t(k)}</button>`)}
      </div>
      <textarea class="input" id="release-reason" rows="3" maxlength="200" value=${reason}
        onInput=${(e) => setReason(e.currentTarget.value)} data-testid="release-reason"></textarea>
    </div>
  <//>`;
}

/** The locked badge next to the stage: the customer is kept out of recall. */
export function LockBadge({ customer: c }) {
  if (!c.locked) return null;
  return html`<span class="tag tag-code" title=${t('customer.lock.hint')} data-testid="customer-locked">
    <${Icon} name="lock" size=${12} /> ${t('customer.locked')}</span>`;
}

export function PoolActions({ customer: c, onChanged }) {
  const [dialog, setDialog] = useState(null);
  const [busy, setBusy] = useState(false);
  const [claimError, setClaimError] = useState(null);
  const mine = c.owner_id && c.owner_id === session.value?.id;
  const call = async (path) => {
    setBusy(true);
    try {
      onChanged(await api('POST', `/api/v1/customers/${encodeURIComponent(c.id)}/${path}`, {}));
      return true;
    } catch (e) {
      toast(poolErrorText(e), { tone: 'error' });
      return false;
    } finally {
      setBusy(false);
    }
  };
  const claim = async () => {
    setBusy(true);
    setClaimError(null);
    try {
      onChanged(await api('POST', `/api/v1/customers/${encodeURIComponent(c.id)}/claim`, {}));
      setDialog(null);
      toast(t('pools.claimed', { name: c.name }));
    } catch (e) {
      setClaimError(poolErrorText(e));
    } finally {
      setBusy(false);
    }
  };
  const lock = async () => {
    if (await call('lock')) toast(t('customer.lock.done'));
  };
  const unlock = async () => {
    if (await call('unlock')) {
      setDialog(null);
      toast(t('customer.unlock.done'));
    }
  };
  // The locked badge is beside the stage in the page header (LockBadge): on a phone these
  // actions sit in the More menu, out of sight.
  return html`
    ${mine && html`<button type="button" class="btn" disabled=${busy} data-testid="customer-lock"
      title=${c.locked ? t('customer.unlock.hint') : t('customer.lock.hint')}
      onClick=${() => (c.locked ? setDialog('unlock') : lock())}><${Icon} name="lock" size=${16} />
      <span>${c.locked ? t('customer.unlock') : t('customer.lock')}</span></button>`}
    ${dialog === 'unlock' && html`<${ConfirmDialog} title=${t('customer.unlock.title')} danger=${false}
      body=${t('customer.unlock.body', { name: c.name })} confirmLabel=${t('customer.unlock')} busy=${busy}
      onConfirm=${unlock} onClose=${() => setDialog(null)} testid="unlock-dialog" />`}
    ${c.owner_id && (mine || can('customer.transfer')) && html`<button type="button" class="btn" data-testid="customer-release"
      onClick=${() => setDialog('release')}><${Icon} name="inbox" size=${16} /><span>${t('customer.release')}</span></button>`}
    ${!c.owner_id && c.pool_id && can('pool.claim') && html`<button type="button" class="btn btn-primary" data-testid="customer-claim"
      onClick=${() => { setClaimError(null); setDialog('claim'); }}><span>${t('pools.claim')}</span></button>`}
    ${dialog === 'release' && html`<${ReleaseDialog} customer=${c} onClose=${() => setDialog(null)}
      onDone=${(saved) => { setDialog(null); toast(t('customer.release.done')); onChanged(saved); }} />`}
    ${dialog === 'claim' && html`<${ConfirmDialog} title=${t('pools.claim.title')} danger=${false}
      body=${t('pools.claim.body', { name: c.name })} confirmLabel=${t('pools.claim')} busy=${busy} error=${claimError}
      onConfirm=${claim} onClose=${() => setDialog(null)} testid="claim-dialog" />`}`;
}
