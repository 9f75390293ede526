// /tools/calculator — the repayment calculator, for every signed-in user and
// usable on a phone in front of a customer: amount in yuan, rate in %, months, method, first
// payment date, optional fees → GET /api/v1/tools/repayment-schedule. Shows the first and
// last payment, the totals, the comprehensive annual cost and the schedule (the
// table scrolls sideways on a narrow screen). Money is converted to fen and the rate to basis
// points exactly (money.js), never through floats.
import { useRef, useState } from '../vendor/preact/hooks.module.js';
import { html } from '../html.js';
import { t } from '../i18n/index.js';
import { api } from '../api.js';
import { placeError } from '../errors.js';
import { addMonthsIso, todayIso } from '../format.js';
import { formatBpPercent, formatYuan, parsePercentToBp, parseYuanToFen } from '../money.js';
import { Field, FormError } from '../components/field.js';
import { SelectField } from '../components/form.js';
import { PeriodsTable } from '../components/periods-table.js';

const METHODS = ['annuity', 'equal_principal', 'interest_only', 'bullet'];
const MAX_MONTHS = 600;
const MAX_RATE_BP = 100000;
const MAX_FEN = 10000000000000;
// Thresholds staff know by heart: many lenders refuse above 24%, courts do not protect above 36%.
const WARN_BP = 2400;
const RED_LINE_BP = 3600;

// Form field ← the API parameter it sends.
const FIELD_OF_PARAM = {
  principal_fen: 'principal', annual_rate_bp: 'rate', months: 'months', method: 'method',
  first_date: 'firstDate', fee_fen: 'fee', fee_monthly_fen: 'feeMonthly',
};
const ORDER = ['principal', 'rate', 'months', 'method', 'firstDate', 'fee', 'feeMonthly'];

function initialValues() {
  return {
    principal: '', rate: '', months: '', method: 'annuity',
    firstDate: addMonthsIso(todayIso(), 1), fee: '', feeMonthly: '',
  };
}

const yuan = (fen) => `¥${formatYuan(fen)}`;

/** The form's strings → the query, or the errors of the fields that are wrong. */
function toQuery(values) {
  const errors = {};
  const query = new URLSearchParams();
  const principal = parseYuanToFen(values.principal);
  if (principal == null) errors.principal = t('calc.error.principalRequired');
  else if (principal === undefined || principal < 1 || principal > MAX_FEN) errors.principal = t('calc.error.amount');
  else query.set('principal_fen', String(principal));
  const rate = parsePercentToBp(values.rate);
  if (rate == null) errors.rate = t('calc.error.rateRequired');
  else if (rate === undefined || rate > MAX_RATE_BP) errors.rate = t('calc.error.rate');
  else query.set('annual_rate_bp', String(rate));
  const months = values.months.trim();
  if (!months) errors.months = t('calc.error.monthsRequired');
  else if (!/^\d+$/.test(months) || Number(months) < 1 || Number(months) > MAX_MONTHS) errors.months = t('calc.error.months', { max: MAX_MONTHS });
  else query.set('months', String(Number(months)));
  query.set('method', values.method);
  if (values.firstDate) query.set('first_date', values.firstDate);
  for (const [name, param] of [['fee', 'fee_fen'], ['feeMonthly', 'fee_monthly_fen']]) {
    const fen = parseYuanToFen(values[name]);
    if (fen === undefined || fen > MAX_FEN) errors[name] = t('calc.error.amount');
    else if (fen) query.set(param, String(fen));
  }
  return { errors, query };
}

function Stat({ label, value, testid, primary = false, note }) {
  return html`<div class=${`calc-stat${primary ? ' calc-stat-primary' : ''}`}>
    <div class="calc-stat-label">${label}</div>
    <div class="calc-stat-value" data-testid=${testid}>${value}</div>
    ${note && html`<div class="calc-stat-note muted">${note}</div>`}
  </div>`;
}

function Summary({ result }) {
  const periods = result.periods;
  const first = periods[0];
  const last = periods[periods.length - 1];
  const single = periods.length === 1;
  const cost = result.comprehensive_cost_bp;
  let costNote = null;
  if (cost > RED_LINE_BP) costNote = html`<p class="notice notice-error calc-cost-note" role="status" data-testid="calc-cost-red">${t('calc.cost.redLine')}</p>`;
  else if (cost > WARN_BP) costNote = html`<p class="notice notice-warning calc-cost-note" role="status" data-testid="calc-cost-warn">${t('calc.cost.warn')}</p>`;
  return html`<div class="card" data-testid="calc-summary">
    <h2 class="card-title">${t(`calc.method.${result.method}`)}</h2>
    <div class="calc-stats">
      ${single
        ? html`<${Stat} label=${t('calc.bulletPayment', { date: last.date })} value=${yuan(last.payment_fen)} testid="calc-first-payment" primary />`
        : html`<${Stat} label=${t('calc.firstPayment', { date: first.date })} value=${yuan(first.payment_fen)} testid="calc-first-payment" primary />
          <${Stat} label=${t('calc.lastPayment', { date: last.date })} value=${yuan(last.payment_fen)} testid="calc-last-payment" />`}
      <${Stat} label=${t('calc.totalPayment')} value=${yuan(result.total_payment_fen)} testid="calc-total-payment" />
      <${Stat} label=${t('calc.totalInterest')} value=${yuan(result.total_interest_fen)} testid="calc-total-interest" />
      ${result.total_fee_fen > 0 && html`<${Stat} label=${t('calc.totalFee')} value=${yuan(result.total_fee_fen)} testid="calc-total-fee" />`}
      <${Stat} label=${t('calc.cost')} value=${formatBpPercent(cost)} testid="calc-cost" primary
        note=${t('calc.cost.note')} />
    </div>
    ${costNote}
  </div>`;
}

function Table({ result }) {
  return html`<div class="card card-flush" data-testid="calc-schedule">
    <div class="card-head"><h2 class="card-title">${t('calc.schedule', { count: result.periods.length })}</h2>
      <p class="card-lead muted">${t('calc.schedule.lead', { date: result.start_date })}</p></div>
    <${PeriodsTable} periods=${result.periods} label=${t('calc.schedule', { count: result.periods.length })}
      rowTestid="calc-row" wrapClass="calc-table-wrap" />
  </div>`;
}

export function CalculatorPage() {
  const [values, setValues] = useState(initialValues);
  const [errors, setErrors] = useState({});
  const [formError, setFormError] = useState(null);
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState(null);
  const refs = Object.fromEntries(ORDER.map((name) => [name, useRef(null)]));

  const set = (name) => (value) => {
    setValues((v) => ({ ...v, [name]: value }));
    setErrors((e) => ({ ...e, [name]: null }));
  };

  const onSubmit = async (event) => {
    event.preventDefault();
    if (busy) return;
    setFormError(null);
    const { errors: found, query } = toQuery(values);
    setErrors(found);
    const firstWrong = ORDER.find((name) => found[name]);
    if (firstWrong) {
      refs[firstWrong].current?.focus();
      return;
    }
    setBusy(true);
    try {
      setResult(await api('GET', `/api/v1/tools/repayment-schedule?${query}`));
    } catch (error) {
      const placed = placeError(error, Object.keys(FIELD_OF_PARAM));
      const field = FIELD_OF_PARAM[placed.field];
      if (field) {
        setErrors({ [field]: placed.text });
        refs[field].current?.focus();
      } else {
        setFormError(placed.text);
      }
    } finally {
      setBusy(false);
    }
  };

  const methodHint = values.method === 'bullet' ? t('calc.firstDate.bulletHint') : t('calc.firstDate.hint');
  return html`<section class="page page-wide" data-testid="page-calculator">
    <header class="page-header">
      <h1 class="page-title">${t('calc.title')}</h1>
      <p class="page-subtitle">${t('calc.subtitle')}</p>
    </header>
    <div class="calc-layout">
      <form class="card calc-form" onSubmit=${onSubmit} novalidate data-testid="calc-form">
        <div class="form">
          <${Field} id="calc-principal" label=${t('calc.principal')} value=${values.principal} onInput=${set('principal')}
            error=${errors.principal} inputMode="decimal" placeholder="1000000" inputRef=${refs.principal}
            testid="calc-principal" maxLength=${20} />
          <div class="form-grid calc-pair">
            <${Field} id="calc-rate" label=${t('calc.rate')} value=${values.rate} onInput=${set('rate')}
              error=${errors.rate} inputMode="decimal" placeholder="4.9" inputRef=${refs.rate}
              testid="calc-rate" maxLength=${10} />
            <${Field} id="calc-months" label=${t('calc.months')} value=${values.months} onInput=${set('months')}
              error=${errors.months} inputMode="numeric" placeholder="360" inputRef=${refs.months}
              testid="calc-months" maxLength=${3} />
          </div>
          <${SelectField} id="calc-method" label=${t('calc.method')} value=${values.method} onChange=${set('method')}
            options=${METHODS.map((m) => ({ value: m, label: t(`calc.method.${m}`) }))} error=${errors.method}
            inputRef=${refs.method} testid="calc-method" required />
          <${Field} id="calc-first-date" type="date" label=${t('calc.firstDate')} value=${values.firstDate}
            onInput=${set('firstDate')} error=${errors.firstDate} hint=${methodHint} inputRef=${refs.firstDate}
            testid="calc-first-date" required=${false} />
          <fieldset class="fieldset calc-fees">
            <legend class="field-label">${t('calc.fees')}</legend>
            <p class="field-hint calc-fees-hint">${t('calc.fees.hint')}</p>
            <div class="form-grid calc-pair">
              <${Field} id="calc-fee" label=${t('calc.fee')} value=${values.fee} onInput=${set('fee')}
                error=${errors.fee} inputMode="decimal" placeholder="0" inputRef=${refs.fee}
                testid="calc-fee" maxLength=${20} required=${false} />
              <${Field} id="calc-fee-monthly" label=${t('calc.feeMonthly')} value=${values.feeMonthly}
                onInput=${set('feeMonthly')} error=${errors.feeMonthly} inputMode="decimal" placeholder="0"
                inputRef=${refs.feeMonthly} testid="calc-fee-monthly" maxLength=${20} required=${false} />
            </div>
          </fieldset>
          <${FormError} text=${formError} testid="calc-error" />
          <button type="submit" class="btn btn-primary btn-block" disabled=${busy} data-testid="calc-submit">
            ${busy ? t('calc.calculating') : t('calc.submit')}
          </button>
        </div>
      </form>
      <div class="calc-results" aria-live="polite">
        ${result
          ? html`<${Summary} result=${result} /><${Table} result=${result} />`
          : html`<div class="card calc-empty muted" data-testid="calc-empty">${t('calc.empty')}</div>`}
      </div>
    </div>
  </section>`;
}
