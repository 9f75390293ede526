// Export of the customer list (GET /api/v1/exports/customers, capability customer.export):
// the list's filters that the export understands go with it; a list narrowed by anything else
// (a search, dates, follow-up state, a view of one person's customers) is not exported as if
// it were the same list: the dialog says which conditions stand in the way.
import { useState } from '../vendor/preact/hooks.module.js';
import { html } from '../html.js';
import { t } from '../i18n/index.js';
import { apiBlob, saveBlob } from '../api.js';
import { errorText } from '../errors.js';
import { FormDialog } from './dialog.js';
import { RadioGroup } from './form.js';
import { toast } from './toast.js';

/** Filters the export takes, by the list's names. */
const EXPORTED = ['stage', 'grade', 'tag', 'channel'];
/** The list's other filters: not applied by the export. */
const NOT_EXPORTED = ['q', 'due', 'flagged', 'created_from', 'created_to'];

/** What stands between the list on screen and an export of it (labels), or []. */
export function unexportable(filters, view) {
  const out = NOT_EXPORTED.filter((k) => filters[k] && filters[k].trim()).map((k) => t(`customers.export.filter.${k}`));
  if (view && view.filter && view.filter.whose && view.filter.whose !== 'all') out.push(t('customers.export.filter.whose'));
  return out;
}

export function ExportDialog({ filters, view, onClose }) {
  const [format, setFormat] = useState('xlsx');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const blocked = unexportable(filters, view);
  const applied = EXPORTED.filter((k) => filters[k] && filters[k].trim());
  const submit = async () => {
    if (blocked.length) return;
    setBusy(true);
    setError(null);
    const q = new URLSearchParams({ format });
    for (const k of applied) q.set(k, filters[k].trim());
    try {
      const blob = await apiBlob('GET', `/api/v1/exports/customers?${q}`);
      saveBlob(`${t('customers.export.file')}.${format}`, blob);
      toast(t('customers.export.done'));
      onClose();
    } catch (e) {
      setBusy(false);
      setError(errorText(e));
    }
  };
  return html`<${FormDialog} title=${t('customers.export.title')} onClose=${onClose} onSubmit=${submit} busy=${busy}
    busyLabel=${t('customers.export.busy')} submitLabel=${t('customers.export.submit')} error=${error}
    testid="export-dialog">
    ${blocked.length > 0
      ? html`<p class="form-error" role="alert" data-testid="export-blocked">${t('customers.export.blocked', { what: blocked.join(t('list.separator')) })}</p>`
      : html`<p class="muted" data-testid="export-scope">${applied.length
        ? t('customers.export.filtered', { what: applied.map((k) => t('customers.export.condition', {
          name: t(`customers.export.filter.${k}`), value: k === 'stage' ? t(`stage.${filters[k]}`) : filters[k],
        })).join(t('list.separator')) })
        : t('customers.export.all')}</p>`}
    <${RadioGroup} id="export-format" legend=${t('customers.export.format')} value=${format} onChange=${setFormat} testid="export-format"
      options=${[{ value: 'xlsx', label: 'Excel (.xlsx)' }, { value: 'csv', label: 'CSV' }]} />
    <p class="muted">${t('customers.export.masked')}</p>
  <//>`;
}
