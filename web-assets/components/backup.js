// Backup status shared by the backup page and the shell's warning banner.
// GET /api/v1/backups/status is only ever called for users with backup.run:
// the banner fetches it once per login, the page keeps it fresh.
import { useEffect } from '../vendor/preact/hooks.module.js';
import { signal } from '../vendor/signals/signals.module.js';
import { html } from '../html.js';
import { t } from '../i18n/index.js';
import { api } from '../api.js';
import { can, session } from '../auth.js';
import { route } from '../router.js';
import { Icon } from './icons.js';

export const BACKUP_CAPABILITY = 'backup.run';
export const BACKUP_PATH = '/admin/backup';

/** The last BackupStatus seen (null until loaded, or for users without backup.run). */
export const backupStatus = signal(null);

/** GET /api/v1/backups/status → the status (also stored in backupStatus). */
export async function loadBackupStatus() {
  const status = await api('GET', '/api/v1/backups/status');
  backupStatus.value = status;
  return status;
}

// The session object the banner last fetched for: a new login (or reload)
// yields a new object, so the status is fetched once per login.
let fetchedFor = null;

/** A slim bar under the top bar when the last scheduled backup failed. */
export function BackupBanner() {
  const user = session.value;
  const allowed = can(BACKUP_CAPABILITY);

  useEffect(() => {
    if (!user || !allowed) {
      backupStatus.value = null;
      return;
    }
    if (fetchedFor === user) return;
    fetchedFor = user;
    backupStatus.value = null;
    loadBackupStatus().catch(() => {
      // The banner is a hint: a failed fetch shows nothing (the page reports errors).
    });
  }, [user, allowed]);

  const status = backupStatus.value;
  if (!allowed || !status || !status.warning) return null;
  const misconfigured = status.enabled && !status.configured;
  const onPage = route.value.path === BACKUP_PATH;
  return html`<div class="backup-banner" role="alert" data-testid="backup-banner">
    <${Icon} name="alert" size=${16} />
    <span>${misconfigured ? t('backup.banner.misconfigured') : t('backup.banner.failed')}</span>
    ${!onPage && html`<a href=${BACKUP_PATH} data-testid="backup-banner-link">${t('backup.banner.link')}</a>`}
  </div>`;
}
