// Today's to-dos: customers whose next follow-up is due today or overdue
// (GET /api/v1/reminders?due=today|overdue), and customers the public pool will
// soon take back (items of kind `recall_warning` with `days_left`). `remindersStamp` is bumped after
// anything that may change them (a follow-up logged), so the top-bar badge
// and the dashboard reload.
import { useEffect, useState } from '../vendor/preact/hooks.module.js';
import { signal } from '../vendor/signals/signals.module.js';
import { html } from '../html.js';
import { t } from '../i18n/index.js';
import { api } from '../api.js';
import { can } from '../auth.js';
import { Icon } from './icons.js';

export const remindersStamp = signal(0);

export function remindersChanged() {
  remindersStamp.value += 1;
}

/** → { today: [...], overdue: [...], recall: [...] } */
export async function loadReminders() {
  const [today, overdue] = await Promise.all([
    api('GET', '/api/v1/reminders?due=today'),
    api('GET', '/api/v1/reminders?due=overdue'),
  ]);
  const recall = (r) => r.kind === 'recall_warning';
  return {
    today: today.items.filter((r) => !recall(r)),
    overdue: overdue.items,
    recall: today.items.filter(recall),
  };
}

/** → { tomorrow: [...], week: [...] }: what comes next (the dashboard, not the badge). */
export async function loadUpcoming() {
  const [tomorrow, week] = await Promise.all([
    api('GET', '/api/v1/reminders?due=tomorrow'),
    api('GET', '/api/v1/reminders?due=week'),
  ]);
  return { tomorrow: tomorrow.items, week: week.items };
}

/** The count of today + overdue reminders in the top bar (links to the dashboard). */
export function ReminderBadge() {
  const allowed = can('customer.read');
  const stamp = remindersStamp.value;
  const [count, setCount] = useState(null);
  useEffect(() => {
    if (!allowed) return undefined;
    let live = true;
    loadReminders()
      .then((r) => {
        if (live) setCount(r.today.length + r.overdue.length + r.recall.length);
      })
      .catch(() => {
        if (live) setCount(null);
      });
    return () => {
      live = false;
    };
  }, [allowed, stamp]);
  if (!allowed || count === null) return null;
  return html`<a class="topbar-reminders" href="/" data-testid="reminder-badge"
    title=${t('reminders.badgeTitle', { count })} aria-label=${t('reminders.badgeTitle', { count })}>
    <${Icon} name="clock" size=${18} />
    ${count > 0 && html`<span class="topbar-reminders-count" data-testid="reminder-badge-count">${count > 99 ? '99+' : count}</span>`}
  </a>`;
}
