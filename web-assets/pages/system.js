// System status: GET /api/v1/health and the signed-in user's roles.
import { useEffect, useState } from '../vendor/preact/hooks.module.js';
import { html } from '../html.js';
import { locale, t } from '../i18n/index.js';
import { api } from '../api.js';
import { session } from '../auth.js';
import { errorText } from '../errors.js';
import { Icon } from '../components/icons.js';
import { roleLabel } from '../components/roles.js';
import { capabilityLabel } from '../components/capabilities.js';

function StatusBadge({ health }) {
  if (health.state === 'loading') {
    return html`<span class="badge" data-testid="health-status">${t('system.status.checking')}</span>`;
  }
  if (health.state === 'error') {
    return html`<span class="badge badge-error" data-testid="health-status">${t('system.status.unreachable')}</span>`;
  }
  const ok = health.data?.status === 'ok';
  return html`<span class=${`badge ${ok ? 'badge-success' : 'badge-warning'}`} data-testid="health-status">
    ${ok ? t('system.status.ok') : health.data?.status}
  </span>`;
}

export function SystemPage() {
  const user = session.value;
  const [health, setHealth] = useState({ state: 'loading' });

  const load = async () => {
    setHealth({ state: 'loading' });
    try {
      const data = await api('GET', '/api/v1/health');
      setHealth({ state: 'ok', data, at: new Date() });
    } catch (error) {
      setHealth({ state: 'error', error, at: new Date() });
    }
  };
  useEffect(() => {
    load();
  }, []);

  const checkedAt = health.at ? health.at.toLocaleTimeString(locale.value) : '—';
  return html`<section class="page" data-testid="page-system">
    <header class="page-header page-header-row">
      <div>
        <h1 class="page-title">${t('system.title')}</h1>
        <p class="page-subtitle">${t('system.subtitle')}</p>
      </div>
      <button type="button" class="btn" onClick=${load} disabled=${health.state === 'loading'} data-testid="health-refresh">
        <${Icon} name="refresh" size=${16} />
        <span>${t('system.refresh')}</span>
      </button>
    </header>

    <div class="card-grid">
      <div class="card">
        <h2 class="card-title">${t('system.server.title')}</h2>
        <dl class="desc-list">
          <dt>${t('system.server.status')}</dt>
          <dd><${StatusBadge} health=${health} /></dd>
          <dt>${t('system.server.version')}</dt>
          <dd data-testid="health-version">${health.data?.version ?? '—'}</dd>
          <dt>${t('system.server.checkedAt')}</dt>
          <dd>${checkedAt}</dd>
        </dl>
        ${health.state === 'error' && html`<div class="form-error" role="alert">${errorText(health.error)}</div>`}
      </div>

      <div class="card">
        <h2 class="card-title">${t('system.user.title')}</h2>
        <dl class="desc-list">
          <dt>${t('system.user.displayName')}</dt>
          <dd>${user.display_name}</dd>
          <dt>${t('system.user.username')}</dt>
          <dd>${user.username}</dd>
          <dt>${t('system.user.roles')}</dt>
          <dd data-testid="user-roles">
            ${(user.roles || []).length
              ? user.roles.map((r) => html`<span class="tag tag-primary" key=${r} data-role=${r}>${roleLabel(r)}</span>`)
              : t('system.user.none')}
          </dd>
          <dt>${t('system.user.capabilities')}</dt>
          <dd data-testid="user-capabilities">
            ${(user.capabilities || []).length
              ? user.capabilities.map((c) => html`<span class="tag" key=${c} title=${c} data-cap=${c}>${capabilityLabel(c)}</span>`)
              : t('system.user.none')}
          </dd>
        </dl>
      </div>
    </div>
  </section>`;
}
