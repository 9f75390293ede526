// API errors → text in the current locale. Users see these translations;
// the one exception is a validation error in zh-CN, where the server's own
// Chinese `message` names the exact reason (e.g. that the password contains
// the username) and is shown as is (in English, the field-based sentence
// below is shown instead).
import { has, locale, t } from './i18n/index.js';

const VALIDATION_BY_FIELD = {
  username: () => t('error.validation.username'),
  display_name: () => t('error.validation.display_name'),
  password: () => t('error.validation.password'),
  new_password: () => t('error.validation.password'),
  current_password: () => t('error.validation.current_password'),
  roles: () => t('error.validation.roles'),
  department_id: () => t('error.validation.department_id'),
  parent_id: () => t('error.validation.parent_id'),
  name: () => t('error.validation.name'),
  key: () => t('error.validation.key'),
  capabilities: () => t('error.validation.capabilities'),
  field_privileges: () => t('error.validation.capabilities'),
  expires_in_days: () => t('error.validation.expires_in_days'),
  cursor: () => t('error.validation.cursor'),
  limit: () => t('error.validation.limit'),
  principal_fen: () => t('error.validation.principal_fen'),
  annual_rate_bp: () => t('error.validation.annual_rate_bp'),
  months: () => t('error.validation.months'),
  method: () => t('error.validation.method'),
  first_date: () => t('error.validation.first_date'),
  fee_fen: () => t('error.validation.fee_fen'),
  fee_monthly_fen: () => t('error.validation.fee_monthly_fen'),
};

// Stable codes of state conflicts and refusals → sentences.
const BY_CODE = {
  username_taken: () => t('error.username_taken'),
  last_admin: () => t('error.last_admin'),
  department_not_empty: () => t('error.department_not_empty'),
  department_exists: () => t('error.department_exists'),
  product_exists: () => t('error.product_exists'),
  channel_exists: () => t('error.channel_exists'),
  transfer_not_needed: () => t('error.transfer_not_needed'),
  contract_signed: () => t('error.contract_signed'),
  contract_void: () => t('error.contract_void'),
  contract_customer_gone: () => t('error.contract_customer_gone'),
  transfer_in_pool: () => t('error.transfer_in_pool'),
  transfer_pending: () => t('error.transfer_pending'),
  transfer_decided: () => t('error.transfer_decided'),
  role_exists: () => t('error.role_exists'),
  custom_field_exists: () => t('error.custom_field_exists'),
  role_in_use: () => t('error.role_in_use'),
  builtin_role: () => t('error.builtin_role'),
  admin_role_locked: () => t('error.admin_role_locked'),
  not_found: () => t('error.not_found'),
  csrf_rejected: () => t('error.csrf_rejected'),
  lead_index_building: () => t('error.lead_index_building'),
  apply_slug_taken: () => t('error.apply_slug_taken'),
  consent_outdated: () => t('error.consent_outdated'),
  referral_consent_outdated: () => t('error.referral_consent_outdated'),
  broker_channel_missing: () => t('error.broker_channel_missing'),
  referral_unassignable: () => t('error.referral_unassignable'),
  referral_fee_paid: () => t('error.referral_fee_paid'),
};

const HAN = /[\u3400-\u4dbf\u4e00-\u9fff]/;

/** The localized sentence for an ApiError (or any thrown value). */
export function errorText(error) {
  switch (error?.code) {
    case 'network':
      return t('error.network');
    case 'invalid_credentials':
      return t('error.invalid_credentials');
    case 'throttled':
      return error.retryAfter != null
        ? t('error.throttled', { seconds: error.retryAfter })
        : t('error.throttled_later');
    case 'setup_token_invalid':
      return t('error.setup_token_invalid');
    case 'setup_done':
      return t('error.setup_done');
    case 'unauthenticated':
      return t('error.unauthenticated');
    case 'validation': {
      if (locale.value === 'zh-CN' && typeof error.message === 'string' && HAN.test(error.message)) {
        return error.message;
      }
      const byField = VALIDATION_BY_FIELD[error.field];
      return byField ? byField() : t('error.validation');
    }
    default:
      if (BY_CODE[error?.code]) return BY_CODE[error.code]();
      // Every code the API returns has a text (web-assets/i18n/check.mjs checks it); a
      // refusal's details fill its placeholders, e.g. { limit } for lock_limit.
      if (error?.code && has(`error.${error.code}`)) return t(`error.${error.code}`, error.details ?? undefined);
      if (error?.status === 403) return t('error.forbidden');
      if (error?.status >= 500) return t('error.server', { status: error.status });
      return t('error.unexpected', { status: error?.status ?? '?' });
  }
}

/**
 * Splits an error into { field, text }: `field` is set when the API named a
 * field that the form shows (so the text goes next to that input), null for
 * a form-level error.
 */
export function placeError(error, fields) {
  const field = error?.field && fields.includes(error.field) ? error.field : null;
  return { field, text: errorText(error) };
}
