// The broker's portal (role `broker`): a phone-first page, the whole app for a broker.
// Submit a referral (the borrower's name, phone, city, loan need, and the broker's
// confirmation of the borrower's consent, whose text version is recorded), and the list of
// their own referrals with the borrower masked and a status only (existing customer,
// following up, signed, disbursed, not closed). The server refuses a broker every other route (docs/brokers.md).
import { useEffect, useState } from '../vendor/preact/hooks.module.js';
import { html } from '../html.js';
import { t } from '../i18n/index.js';
import { api } from '../api.js';
import { logout } from '../auth.js';
import { navigate } from '../router.js';
import { placeError, errorText } from '../errors.js';
import { formatDateTime } from '../format.js';
import { Field, FormError } from '../components/field.js';
import { EmptyState, LoadError, Loading } from '../components/states.js';
import { LocaleSwitch } from '../components/locale-switch.js';
import { toast } from '../components/toast.js';

const EMPTY = { name: '', phone: '', city: '', amount: '', purpose: '', consent: false };

function ReferralForm({ portal, onDone }) {
  const [f, setF] = useState(EMPTY);
  const [busy, setBusy] = useState(false);
  const [err, setErr] = useState({ field: null, text: '' });
  const [answer, setAnswer] = useState(null);
  const set = (k) => (v) => setF({ ...f, [k]: v });
  const submit = async (event) => {
    event.preventDefault();
    setBusy(true);
    setErr({ field: null, text: '' });
    setAnswer(null);
    try {
      const amount = f.amount.trim() === '' ? null : Number(f.amount);
      if (amount !== null && (!Number.isInteger(amount) || amount <= 0)) {
        setErr({ field: 'amount_wan', text: t('broker.amountInvalid') });
        return;
      }
      const r = await api('POST', '/api/v1/broker/referrals', {
        name: f.name, phone: f.phone, city: f.city || null, amount_wan: amount,
        purpose: f.purpose || null, consent: f.consent, consent_version: portal.consent_version,
      });
      setAnswer(r.existing ? 'existing' : 'new');
      toast(t(r.existing ? 'broker.existing' : 'broker.submitted'));
      setF(EMPTY);
      onDone();
    } catch (error) {
      setAnswer(null);
      setErr(placeError(error, ['name', 'phone', 'city', 'amount_wan', 'purpose', 'consent']));
    } finally {
      setBusy(false);
    }
  };
  const e = (k) => (err.field === k ? err.text : null);
  return html`<form class="card broker-form" onSubmit=${submit} data-testid="referral-form" novalidate>
    <h2 class="card-title">${t('broker.new')}</h2>
    ${answer && html`<div class=${`notice ${answer === 'existing' ? 'notice-warning' : 'notice-success'}`} role="status" data-testid="referral-answer">
      ${t(answer === 'existing' ? 'broker.existing' : 'broker.submitted')}</div>`}
    <${Field} id="referral-name" label=${t('broker.name')} value=${f.name} onInput=${set('name')}
      error=${e('name')} testid="referral-name" maxLength=${32} autocomplete="off" />
    <${Field} id="referral-phone" label=${t('broker.phone')} value=${f.phone} onInput=${set('phone')} type="tel"
      inputMode="tel" error=${e('phone')} testid="referral-phone" maxLength=${20} autocomplete="off" />
    <${Field} id="referral-city" label=${t('broker.city')} value=${f.city} onInput=${set('city')}
      required=${false} error=${e('city')} testid="referral-city" maxLength=${32} />
    <${Field} id="referral-amount" label=${t('broker.amount')} value=${f.amount} onInput=${set('amount')}
      inputMode="numeric" required=${false} error=${e('amount_wan')} testid="referral-amount" maxLength=${6} />
    <${Field} id="referral-purpose" label=${t('broker.purpose')} value=${f.purpose} onInput=${set('purpose')}
      required=${false} error=${e('purpose')} testid="referral-purpose" maxLength=${64} />
    <div class=${`field${e('consent') ? ' has-error' : ''}`}>
      <p class="field-hint broker-consent" data-testid="referral-consent-text">${portal.consent_text}
        <span class="muted"> (v${portal.consent_version})</span></p>
      <label class="check">
        <input type="checkbox" checked=${f.consent} data-testid="referral-consent"
          onChange=${(ev) => setF({ ...f, consent: ev.currentTarget.checked })} />
        <span>${t('broker.consent')}</span>
      </label>
      ${e('consent') && html`<div class="field-error" role="alert" data-testid="referral-consent-error">${e('consent')}</div>`}
    </div>
    <${FormError} text=${err.field ? null : err.text} />
    <button type="submit" class="btn btn-primary btn-block" disabled=${busy} data-testid="referral-submit">
      ${busy ? t('common.saving') : t('broker.submit')}</button>
  </form>`;
}

function ReferralList({ page, error, onRetry }) {
  if (error) return html`<${LoadError} error=${error} onRetry=${onRetry} />`;
  if (!page) return html`<${Loading} />`;
  if (page.items.length === 0) {
    return html`<${EmptyState} title=${t('broker.emptyTitle')} body=${t('broker.emptyBody')} testid="referrals-empty" />`;
  }
  return html`<ul class="broker-list" data-testid="referral-list">
    ${page.items.map((r) => html`<li key=${r.id} class="card broker-item" data-testid="referral-item">
      <div class="broker-item-head">
        <strong data-testid="referral-item-name">${r.name}</strong>
        <span class=${`badge badge-${r.status}`} data-testid="referral-item-status">${t(`broker.status.${r.status}`)}</span>
      </div>
      <div class="muted" data-testid="referral-item-phone">${r.phone}${r.city ? ` · ${r.city}` : ''}</div>
      <div class="muted small">${formatDateTime(r.at, { seconds: false })}</div>
    </li>`)}
  </ul>`;
}

export function BrokerPortalPage() {
  const [portal, setPortal] = useState(null);
  const [page, setPage] = useState(null);
  const [error, setError] = useState(null);
  const load = async () => {
    setError(null);
    try {
      const [p, list] = await Promise.all([
        api('GET', '/api/v1/broker/portal'),
        api('GET', '/api/v1/broker/referrals?limit=50'),
      ]);
      setPortal(p);
      setPage(list);
    } catch (e) {
      setError(e);
    }
  };
  useEffect(() => { load(); }, []);
  const signOut = async () => {
    try {
      await logout();
      navigate('/login', { replace: true });
    } catch (e) {
      toast(errorText(e));
    }
  };
  return html`<div class="broker-portal" data-testid="broker-portal">
    <header class="broker-header">
      <div>
        <h1 class="broker-title">${t('broker.title')}</h1>
        ${portal && html`<div class="muted small" data-testid="broker-who">${portal.display_name}${portal.company ? ` · ${portal.company}` : ''}</div>`}
      </div>
      <div class="broker-actions">
        <${LocaleSwitch} />
        <button type="button" class="btn btn-ghost btn-sm" onClick=${signOut} data-testid="broker-logout">${t('broker.logout')}</button>
      </div>
    </header>
    ${portal && html`<${ReferralForm} portal=${portal} onDone=${load} />`}
    <section>
      <h2 class="section-title">${t('broker.mine')}${page ? ` (${page.total})` : ''}</h2>
      <${ReferralList} page=${page} error=${error} onRetry=${load} />
    </section>
  </div>`;
}
