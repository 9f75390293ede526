//! Backup settings an administrator changes on the 备份 page, taking effect at the scheduler's
//! next look (no restart): stored in `settings` (`backup/settings`) and laid over the
//! configuration file's `[backup]`. The post-backup command and the recipients/passphrase files
//! stay in the file only: a shell command and key files are the server operator's, not the web
//! UI's.

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::backup::{BackupStatus, plan, status_view};
use super::schedule;
use crate::config::BackupConfig;
use crate::domain::capability::Capability;
use crate::service::access::auth::Caller;
use crate::service::{self, App};

/// The `settings` key.
pub const KEY: &str = "backup/settings";

/// What the 备份 page edits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BackupSettings {
    /// Scheduled daily backups on.
    pub enabled: bool,
    /// Where archives go: an absolute path on this server (a mounted backup disk).
    pub dir: String,
    /// Daily time, `HH:MM`, +08:00.
    pub time: String,
    pub keep_daily: u32,
    pub keep_weekly: u32,
    /// age public keys (`age1…`) that can open the archives.
    pub recipients: Vec<String>,
}

impl BackupSettings {
    fn over(&self, mut c: BackupConfig) -> BackupConfig {
        c.enabled = self.enabled;
        c.dir = self.dir.trim().to_string();
        c.time = self.time.trim().to_string();
        c.keep_daily = self.keep_daily;
        c.keep_weekly = self.keep_weekly;
        c.recipients = self.recipients.clone();
        c
    }
}

impl App {
    /// The effective `[backup]` configuration: the file's, with the page's settings over it.
    /// Unreadable stored settings are an error (shown on the page and logged), never the file's
    /// values in their place.
    pub fn backup_config(&self) -> Result<BackupConfig, String> {
        let base = self.config.backup.clone();
        let raw = self
            .store
            .setting(KEY)
            .map_err(|e| format!("reading the saved backup settings: {e}"))?;
        match raw {
            None => Ok(base),
            Some(raw) => serde_json::from_str::<BackupSettings>(&raw)
                .map(|s| s.over(base))
                .map_err(|e| format!("the saved backup settings are unreadable: {e}")),
        }
    }

    /// Whether the page's settings are in force (else the file's).
    pub fn backup_settings_saved(&self) -> bool {
        matches!(self.store.setting(KEY), Ok(Some(_)))
    }
}

fn field_of(code: &str) -> &'static str {
    match code {
        "dir_unset" | "dir_missing" | "dir_in_data" => "dir",
        _ => "recipients",
    }
}

fn reason_of(code: &str) -> &'static str {
    match code {
        "dir_unset" => "请填写备份目录",
        "dir_missing" => "备份目录不存在或不是目录（备份盘是否已挂载？）",
        "dir_in_data" => super::backup::DIR_IN_DATA_REASON,
        "recipients_invalid" => "公钥格式不正确，应为 age1 开头的 age 公钥",
        "both_keys" => "配置文件中已设置口令文件，不能同时设置公钥",
        "no_key" => "请至少填写一个公钥（备份必须加密）",
        "recipients_file_invalid" => "配置文件中的公钥文件无法读取",
        "passphrase_file_invalid" => "配置文件中的口令文件无法读取",
        _ => "备份设置无效",
    }
}

/// Saves the page's settings (`settings.manage`), refusing any that could not run, with the
/// field and the reason; audited with the old and new values in the same transaction.
pub fn save(
    app: &App,
    caller: &Caller,
    s: BackupSettings,
    source: &str,
) -> service::Result<BackupStatus> {
    caller.require(Capability::SettingsManage)?;
    if schedule::parse_time_of_day(s.time.trim()).is_none() {
        return Err(service::Error::validation(
            "time",
            "时间格式应为 HH:MM，如 02:30",
        ));
    }
    if s.keep_daily > 366 {
        return Err(service::Error::validation(
            "keep_daily",
            "每日备份最多保留366份",
        ));
    }
    if s.keep_weekly > 520 {
        return Err(service::Error::validation(
            "keep_weekly",
            "每周备份最多保留520份",
        ));
    }
    if s.keep_daily == 0 && s.keep_weekly == 0 {
        return Err(service::Error::validation("keep_daily", "至少保留一份备份"));
    }
    let dir = s.dir.trim();
    if !dir.is_empty() && !std::path::Path::new(dir).is_absolute() {
        return Err(service::Error::validation(
            "dir",
            "请填写绝对路径，如 /mnt/backup/zhudai",
        ));
    }
    let before = app.backup_config().map_err(service::Error::Internal)?;
    let after = s.over(app.config.backup.clone());
    // Switched on, or a directory given: it must be able to run now.
    if (s.enabled || !dir.is_empty())
        && let Err(p) = plan(&after, &app.data_dir)
    {
        return Err(service::Error::validation(
            field_of(p.code),
            reason_of(p.code),
        ));
    }
    let value = serde_json::to_string(&s)
        .map_err(|e| service::Error::Internal(format!("backup settings: {e}")))?;
    let now = app.now();
    app.store.write(|tx| {
        crate::store::Store::put_setting(tx, KEY, &value)?;
        crate::service::access::audit::record(
            tx,
            now,
            crate::service::access::audit::by_user(
                &caller.user,
                "backup.settings_changed",
                source,
                None,
                json!({
                    "before": {"enabled": before.enabled, "dir": before.dir, "time": before.time,
                               "keep_daily": before.keep_daily, "keep_weekly": before.keep_weekly,
                               "recipients": before.recipients},
                    "after": s,
                }),
            ),
        )?;
        Ok::<_, service::Error>(())
    })?;
    Ok(status_view(app))
}
