// API errors → text in the current locale. The server's own `message` is
// for logs and developers; users see these translations.
import { t } from './i18n/index.js';

const VALIDATION_BY_FIELD = {
  username: () => t('error.validation.username'),
  display_name: () => t('error.validation.display_name'),
  password: () => t('error.validation.password'),
};

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
      const byField = VALIDATION_BY_FIELD[error.field];
      return byField ? byField() : t('error.validation');
    }
    default:
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
