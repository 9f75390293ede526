// The from/to date inputs of a report period. A period that would end before it starts is not
// asked for: the input says why beside it and the last good period stays.
import { useState } from '../vendor/preact/hooks.module.js';
import { html } from '../html.js';
import { t } from '../i18n/index.js';

export function PeriodInputs({ period, onChange, testid }) {
  const [bad, setBad] = useState(null);
  const pick = (which) => (event) => {
    const value = event.currentTarget.value;
    if (!value) return;
    const next = { ...period, [which]: value };
    if (next.from > next.to) {
      setBad(which);
      return;
    }
    setBad(null);
    onChange(next);
  };
  return html`<span class="period-inputs">
    <label class="field-inline">${t('funnel.from')} <input class="input" type="date" value=${period.from} max=${period.to}
      aria-invalid=${bad === 'from' ? 'true' : 'false'} onChange=${pick('from')} data-testid=${`${testid}-from`} /></label>
    <label class="field-inline">${t('funnel.to')} <input class="input" type="date" value=${period.to} min=${period.from}
      aria-invalid=${bad === 'to' ? 'true' : 'false'} onChange=${pick('to')} data-testid=${`${testid}-to`} /></label>
    ${bad && html`<span class="field-error" role="alert" data-testid=${`${testid}-period-error`}>${t('funnel.periodInverted')}</span>`}
  </span>`;
}
