import { html } from '../html.js';
import { t } from '../i18n/index.js';
import { session } from '../auth.js';
import { Icon } from '../components/icons.js';

function greeting(name) {
  const hour = new Date().getHours();
  if (hour >= 5 && hour < 11) return t('dashboard.greeting.morning', { name });
  if (hour >= 11 && hour < 13) return t('dashboard.greeting.noon', { name });
  if (hour >= 13 && hour < 18) return t('dashboard.greeting.afternoon', { name });
  return t('dashboard.greeting.evening', { name });
}

export function DashboardPage() {
  const user = session.value;
  const name = user.display_name || user.username;
  return html`<section class="page" data-testid="page-dashboard">
    <header class="page-header">
      <h1 class="page-title" data-testid="dashboard-greeting">${greeting(name)}</h1>
      <p class="page-subtitle">${t('dashboard.subtitle')}</p>
    </header>
    <div class="card empty-state" data-testid="dashboard-empty">
      <div class="empty-state-icon"><${Icon} name="inbox" size=${40} /></div>
      <h2 class="empty-state-title">${t('dashboard.empty.title')}</h2>
      <p class="empty-state-body">${t('dashboard.empty.body')}</p>
    </div>
  </section>`;
}
