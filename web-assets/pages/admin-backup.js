// /admin/backup — scheduled-backup settings and results (capability
// backup.run): GET /api/v1/backups/status, "back up now" through
// POST /api/v1/backups/run, then the status is polled every 2 s until the
// backup has finished. Secrets (passphrase, keys) are never in the status.
import { useEffect, useRef, useState } from '../vendor/preact/hooks.module.js';
import { html } from '../html.js';
import { t } from '../i18n/index.js';
import { api } from '../api.js';
import { errorText } from '../errors.js';
import { formatDateTime, TIME_ZONE } from '../format.js';
import { LoadError, Loading } from '../components/states.js';
import { ConfirmDialog, FormDialog } from '../components/dialog.js';
import { Field } from '../components/field.js';
import { Checkbox } from '../components/form.js';
import { can } from '../auth.js';
import { Icon } from '../components/icons.js';
import { toast } from '../components/toast.js';
import { backupStatus, loadBackupStatus } from '../components/backup.js';

const POLL_MS = 2000;

const CONFIG_EXAMPLE = `[backup]
enabled = true
dir = "/mnt/backup"
time = "02:30"
keep_daily = 7
keep_weekly = 4
recipients = ["age1..."]
# passphrase_file = "backup-pass.txt"`;

const MANUAL_COMMAND = 'zhudai backup --out F.age --passphrase-file F';

/** 1536 → "1.5 KB" (binary multiples); "—" when absent. */
export function formatBytes(bytes) {
  if (bytes == null) return '—';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  const shown = unit === 0 ? String(value) : value.toFixed(value < 10 ? 1 : 0);
  return `${shown} ${units[unit]}`;
}

/** Milliseconds → "850 ms" / "3.2 s" / "2 min 5 s" in the current locale. */
export function formatDuration(ms) {
  if (ms == null) return '—';
  if (ms < 1000) return t('backup.duration.ms', { n: ms });
  const seconds = ms / 1000;
  if (seconds < 60) return t('backup.duration.s', { n: seconds.toFixed(1) });
  const whole = Math.round(seconds);
  return t('backup.duration.min', { m: Math.floor(whole / 60), s: whole % 60 });
}

/** The error of POST /backups/run in the current locale; for backup_not_configured with the server's reason below. */
function runErrorText(error) {
  if (error?.code === 'backup_running') return t('backup.error.running');
  if (error?.code === 'backup_not_configured') {
    return html`<div>${t('backup.error.notConfigured')}</div>
      ${error.message && html`<div class="backup-server-message">${t('backup.error.server')}${t('list.colon')}${error.message}</div>`}`;
  }
  return errorText(error);
}

function RunResult({ record, testid }) {
  const failed = !record.ok;
  const postFailed = record.ok && record.post_command_error;
  const badge = failed
    ? html`<span class="badge badge-error" data-testid=${`${testid}-state`}>${t('backup.result.failed')}</span>`
    : postFailed
      ? html`<span class="badge badge-warning" data-testid=${`${testid}-state`}>${t('backup.result.postFailed')}</span>`
      : html`<span class="badge badge-success" data-testid=${`${testid}-state`}>${t('backup.result.ok')}</span>`;
  const trigger = record.trigger === 'scheduled'
    ? t('backup.trigger.scheduled')
    : record.trigger === 'cli'
      ? t('backup.trigger.cli')
      : record.requested_by
      ? t('backup.trigger.manualBy', { name: record.requested_by })
      : t('backup.trigger.manual');
  return html`<dl class="desc-list" data-testid=${testid}>
    <dt>${t('backup.result.state')}</dt><dd>${badge}</dd>
    <dt>${t('backup.result.trigger')}</dt><dd>${trigger}</dd>
    <dt>${t('backup.result.startedAt')}</dt><dd class="mono-num">${formatDateTime(record.started_at)}</dd>
    <dt>${t('backup.result.finishedAt')}</dt><dd class="mono-num">${formatDateTime(record.finished_at)}</dd>
    <dt>${t('backup.result.duration')}</dt><dd>${formatDuration(record.duration_ms)}</dd>
    ${record.file && html`<dt>${t('backup.result.file')}</dt><dd class="mono" data-testid=${`${testid}-file`}>${record.file}</dd>`}
    ${record.size_bytes != null && html`<dt>${t('backup.result.size')}</dt>
      <dd title=${t('backup.result.bytes', { n: record.size_bytes })}>${formatBytes(record.size_bytes)}</dd>`}
    ${record.error && html`<dt>${t('backup.result.error')}</dt>
      <dd class="backup-error" data-testid=${`${testid}-error`}>${record.error}</dd>`}
    ${record.post_command_error && html`<dt>${t('backup.result.postError')}</dt>
      <dd class="backup-error" data-testid=${`${testid}-post-error`}>${record.post_command_error}</dd>`}
    ${record.deleted?.length > 0 && html`<dt>${t('backup.result.deleted')}</dt>
      <dd>${t('backup.result.deletedCount', { count: record.deleted.length })}</dd>`}
  </dl>`;
}

const PROBLEM_KEYS = {
  dir_unset: 'backup.problem.dir_unset',
  dir_missing: 'backup.problem.dir_missing',
  dir_in_data: 'backup.problem.dir_in_data',
  recipients_invalid: 'backup.problem.recipients_invalid',
  recipients_file_invalid: 'backup.problem.recipients_file_invalid',
  passphrase_file_invalid: 'backup.problem.passphrase_file_invalid',
  both_keys: 'backup.problem.both_keys',
  no_key: 'backup.problem.no_key',
  settings_unreadable: 'backup.problem.settings_unreadable',
};

/** Edit the schedule, directory, retention and public keys (settings.manage); in force at
 * once, no restart. A refusal is shown beside its field. */
function SettingsDialog({ status, onClose, onSaved }) {
  const [f, setF] = useState({
    enabled: status.enabled, dir: status.dir || '', time: status.time || '02:30',
    keep_daily: String(status.keep_daily), keep_weekly: String(status.keep_weekly),
    recipients: (status.recipients || []).join('\n'),
  });
  const [errors, setErrors] = useState({});
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const set = (k) => (v) => setF((x) => ({ ...x, [k]: v }));
  const onSubmit = async () => {
    const num = (v) => (/^\d+$/.test(v.trim()) ? Number(v.trim()) : NaN);
    const body = {
      enabled: f.enabled, dir: f.dir.trim(), time: f.time.trim(),
      keep_daily: num(f.keep_daily), keep_weekly: num(f.keep_weekly),
      recipients: f.recipients.split(/[\s,]+/).map((r) => r.trim()).filter(Boolean),
    };
    const local = {};
    for (const k of ['keep_daily', 'keep_weekly']) if (Number.isNaN(body[k])) local[k] = t('backup.edit.number');
    setErrors(local);
    if (Object.keys(local).length) return;
    setBusy(true);
    setError(null);
    try {
      const data = await api('PUT', '/api/v1/backups/settings', body);
      toast(t('backup.edit.saved'));
      onSaved(data);
    } catch (e) {
      setBusy(false);
      if (e.field && ['dir', 'time', 'keep_daily', 'keep_weekly', 'recipients'].includes(e.field)) setErrors({ [e.field]: e.message || errorText(e) });
      else setError(errorText(e));
    }
  };
  return html`<${FormDialog} title=${t('backup.edit.title')} onClose=${onClose} onSubmit=${onSubmit} busy=${busy} error=${error} testid="backup-edit">
    <p class="field-hint">${t('backup.edit.hint')}</p>
    <${Checkbox} id="backup-edit-enabled" label=${t('backup.edit.enabled')} checked=${f.enabled} onChange=${set('enabled')} testid="backup-edit-enabled" />
    <${Field} id="backup-edit-dir" label=${t('backup.edit.dir')} value=${f.dir} onInput=${set('dir')} error=${errors.dir} testid="backup-edit-dir"
      placeholder="/mnt/backup/zhudai" required=${false} />
    <div class="form-grid">
      <${Field} id="backup-edit-time" label=${t('backup.edit.time')} value=${f.time} onInput=${set('time')} error=${errors.time} testid="backup-edit-time" />
      <${Field} id="backup-edit-daily" label=${t('backup.edit.keepDaily')} value=${f.keep_daily} onInput=${set('keep_daily')} error=${errors.keep_daily} inputMode="numeric" testid="backup-edit-daily" />
      <${Field} id="backup-edit-weekly" label=${t('backup.edit.keepWeekly')} value=${f.keep_weekly} onInput=${set('keep_weekly')} error=${errors.keep_weekly} inputMode="numeric" testid="backup-edit-weekly" />
    </div>
    <div class=${`field${errors.recipients ? ' has-error' : ''}`}>
      <label class="field-label" for="backup-edit-recipients">${t('backup.edit.recipients')}</label>
      <textarea class="input mono" id="backup-edit-recipients" rows="3" value=${f.recipients} placeholder="age1…"
        onInput=${(e) => set('recipients')(e.currentTarget.value)} data-testid="backup-edit-recipients"
        disabled=${status.key_files}></textarea>
      ${errors.recipients && html`<div class="field-error" role="alert" data-testid="backup-edit-recipients-error">${errors.recipients}</div>`}
      <div class="field-hint">${status.key_files ? t('backup.edit.keyFiles') : t('backup.edit.recipientsHint')}</div>
    </div>
  <//>`;
}

/** Why backups cannot run, in the reader's language (the server's English detail below it). */
function problemText(status) {
  const key = PROBLEM_KEYS[status.config_problem];
  return key ? t(key) : status.config_error;
}

function Unconfigured({ status }) {
  return html`<div class="card backup-setup" data-testid="backup-unconfigured">
    <div class="backup-setup-head">
      <span class="backup-setup-icon"><${Icon} name="backup" size=${28} /></span>
      <div>
        <h2 class="card-title">${t('backup.unconfigured.title')}</h2>
        <p class="muted">${t('backup.unconfigured.body')}</p>
      </div>
    </div>
    ${status.config_error && html`<p class="backup-reason" data-testid="backup-config-error">
      ${t('backup.unconfigured.reason')}${t('list.colon')}${problemText(status)}
      ${status.config_problem !== 'dir_unset' && html`<br /><code class="muted">${status.config_error}</code>`}</p>`}
    <h3 class="section-title">${t('backup.unconfigured.scheduleTitle')}</h3>
    <p>${t('backup.unconfigured.scheduleBody')}</p>
    <pre class="code-block" data-testid="backup-config-example">${CONFIG_EXAMPLE}</pre>
    <p class="muted">${t('backup.unconfigured.scheduleNote')}</p>
    <h3 class="section-title">${t('backup.unconfigured.manualTitle')}</h3>
    <p>${t('backup.unconfigured.manualBody')}</p>
    <pre class="code-block" data-testid="backup-manual-command">${MANUAL_COMMAND}</pre>
    <p class="muted">${t('backup.unconfigured.docs')}</p>
  </div>`;
}

function Settings({ status, onEdit }) {
  return html`<div class="card" data-testid="backup-settings">
    <div class="q-group-head">
      <h2 class="card-title">${t('backup.settings.title')}</h2>
      ${onEdit && html`<button type="button" class="btn btn-sm" onClick=${onEdit} data-testid="backup-edit-open">${t('common.edit')}</button>`}
    </div>
    <dl class="desc-list">
      <dt>${t('backup.settings.schedule')}</dt>
      <dd data-testid="backup-enabled">${status.enabled
        ? html`<span class="badge badge-success">${t('backup.settings.enabled')}</span>`
        : html`<span class="badge">${t('backup.settings.disabled')}</span>`}</dd>
      <dt>${t('backup.settings.config')}</dt>
      <dd data-testid="backup-configured">${status.configured
        ? html`<span class="badge badge-success">${t('backup.settings.configured')}</span>`
        : html`<span class="badge badge-warning">${t('backup.settings.notConfigured')}</span>`}</dd>
      <dt>${t('backup.settings.dir')}</dt>
      <dd class="mono" data-testid="backup-dir">${status.dir || html`<span class="muted">${t('backup.settings.notSet')}</span>`}</dd>
      <dt>${t('backup.settings.time')}</dt>
      <dd>${status.time ? t('backup.settings.daily', { time: status.time }) : '—'}</dd>
      <dt>${t('backup.settings.next')}</dt>
      <dd class="mono-num">${status.next_run_at ? formatDateTime(status.next_run_at) : html`<span class="muted">—</span>`}</dd>
      <dt>${t('backup.settings.retention')}</dt>
      <dd>${t('backup.settings.retentionValue', { daily: status.keep_daily, weekly: status.keep_weekly })}</dd>
      <dt>${t('backup.settings.encryption')}</dt>
      <dd class="muted">${status.recipients?.length ? t('backup.settings.keys', { n: status.recipients.length }) : t('backup.settings.encryptionHidden')}</dd>
      <dt>${t('backup.settings.source')}</dt>
      <dd class="muted" data-testid="backup-source">${status.from_page ? t('backup.settings.fromPage') : t('backup.settings.fromFile')}</dd>
    </dl>
  </div>`;
}

export function AdminBackupPage() {
  const [state, setState] = useState({ status: 'loading' });
  const [confirm, setConfirm] = useState({ open: false, busy: false, error: null });
  const [editing, setEditing] = useState(false);
  const poll = useRef(null);
  const alive = useRef(true);

  const stopPolling = () => {
    if (poll.current) clearTimeout(poll.current);
    poll.current = null;
  };

  const schedulePoll = () => {
    stopPolling();
    poll.current = setTimeout(async () => {
      poll.current = null;
      if (!alive.current) return;
      try {
        const data = await loadBackupStatus();
        if (!alive.current) return;
        setState({ status: 'ready', data });
        if (data.running) schedulePoll();
        else if (data.last) {
          if (data.last.ok) toast(t('backup.toast.done'));
          else toast(t('backup.toast.failed'), { tone: 'error', ms: 6000 });
        }
      } catch {
        if (alive.current) schedulePoll();
      }
    }, POLL_MS);
  };

  const load = async () => {
    stopPolling();
    setState((s) => (s.data ? { ...s, refreshing: true } : { status: 'loading' }));
    try {
      const data = await loadBackupStatus();
      if (!alive.current) return;
      setState({ status: 'ready', data });
      if (data.running) schedulePoll();
    } catch (error) {
      if (alive.current) setState({ status: 'error', error });
    }
  };

  useEffect(() => {
    alive.current = true;
    load();
    return () => {
      alive.current = false;
      stopPolling();
    };
  }, []);

  const run = async () => {
    setConfirm({ open: true, busy: true, error: null });
    try {
      const data = await api('POST', '/api/v1/backups/run');
      if (!alive.current) return;
      backupStatus.value = data;
      setState({ status: 'ready', data });
      setConfirm({ open: false, busy: false, error: null });
      toast(t('backup.toast.started'));
      schedulePoll();
    } catch (error) {
      if (!alive.current) return;
      setConfirm({ open: true, busy: false, error: runErrorText(error) });
      if (error?.code === 'backup_running') load();
    }
  };

  const data = state.data;
  const running = Boolean(data?.running);
  let body;
  if (state.status === 'loading') body = html`<${Loading} testid="backup-loading" />`;
  else if (state.status === 'error') body = html`<${LoadError} error=${state.error} onRetry=${load} testid="backup-load-error" />`;
  else {
    const showSuccess = data.last_success && data.last && !data.last.ok;
    body = html`
      ${running && html`<div class="notice notice-info backup-running" role="status" data-testid="backup-running">
        <span class="spinner spinner-sm" aria-hidden="true"></span><span>${t('backup.running')}</span></div>`}
      ${!data.configured && html`<${Unconfigured} status=${data} />`}
      <div class="card-grid backup-grid">
        <${Settings} status=${data} onEdit=${can('settings.manage') ? () => setEditing(true) : null} />
        <div class="card" data-testid="backup-last">
          <h2 class="card-title">${t('backup.last.title')}</h2>
          ${data.last
            ? html`<${RunResult} record=${data.last} testid="backup-last-result" />`
            : html`<p class="muted" data-testid="backup-never">${t('backup.last.never')}</p>`}
        </div>
        ${showSuccess && html`<div class="card" data-testid="backup-last-success">
          <h2 class="card-title">${t('backup.lastSuccess.title')}</h2>
          <${RunResult} record=${data.last_success} testid="backup-last-success-result" />
        </div>`}
      </div>`;
  }

  return html`<section class="page" data-testid="page-admin-backup">
    <header class="page-header page-header-row">
      <div>
        <h1 class="page-title">${t('backup.title')}</h1>
        <p class="page-subtitle">${t('backup.subtitle', { zone: TIME_ZONE })}</p>
      </div>
      <div class="page-actions">
        <button type="button" class="btn" onClick=${load} disabled=${state.status === 'loading' || state.refreshing}
          data-testid="backup-refresh"><${Icon} name="refresh" size=${16} /><span>${t('system.refresh')}</span></button>
        <button type="button" class="btn btn-primary"
          disabled=${state.status === 'loading' || running || (data && !data.configured)}
          title=${data && !data.configured ? problemText(data) : undefined}
          onClick=${() => setConfirm({ open: true, busy: false, error: null })} data-testid="backup-run">
          <${Icon} name="backup" size=${16} /><span>${running ? t('backup.running') : t('backup.run')}</span></button>
      </div>
    </header>
    ${body}
    ${editing && data && html`<${SettingsDialog} status=${data} onClose=${() => setEditing(false)}
      onSaved=${(d) => { setEditing(false); backupStatus.value = d; setState({ status: 'ready', data: d }); }} />`}
    ${confirm.open && html`<${ConfirmDialog} testid="backup-confirm" danger=${false}
      title=${t('backup.confirm.title')} body=${t('backup.confirm.body')}
      confirmLabel=${t('backup.confirm.ok')} busyLabel=${t('backup.confirm.busy')}
      busy=${confirm.busy} error=${confirm.error} onConfirm=${run}
      onClose=${() => setConfirm({ open: false, busy: false, error: null })} />`}
  </section>`;
}
