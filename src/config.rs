//! Configuration: embedded defaults < `data/config.toml` < `ZHUDAI_*` environment < flags.
//! Layers are merged as TOML values so that every layer is checked against the one list of
//! known keys (the embedded defaults); unknown keys become warnings, not silent no-ops.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// The embedded defaults; also the authoritative list of known keys.
pub const DEFAULTS: &str = include_str!("config.default.toml");

/// Environment variables that are not configuration keys but are still ours.
const RESERVED_ENV: &[&str] = &["ZHUDAI_DATA", "ZHUDAI_LOG", CONFIG_ENV];

/// The configuration file to read instead of `data/config.toml` (the Debian package sets it
/// to `/etc/zhudai/config.toml`); it must exist when set.
pub const CONFIG_ENV: &str = "ZHUDAI_CONFIG";

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub server: ServerConfig,
    pub session: SessionConfig,
    pub log: LogConfig,
    pub customers: CustomersConfig,
    pub backup: BackupConfig,
    pub pool: PoolConfig,
    pub store: StoreConfig,
    pub metrics: MetricsConfig,
    pub loans: LoansConfig,
    pub documents: DocumentsConfig,
    pub leads: LeadsConfig,
    pub contracts: ContractsConfig,
    pub calls: CallsConfig,
    pub reports: ReportsConfig,
}

/// Custom reports (docs/reports.md): the limits of one run of a report script.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportsConfig {
    /// Rhai operations one run may take (hooks: 1,000,000).
    pub max_operations: u64,
    /// Wall-clock milliseconds one run may take (hooks: 200).
    pub max_ms: u64,
}

/// Calls from the PBX, recordings and click-to-call (docs/calls.md).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallsConfig {
    /// Largest call recording accepted, bytes.
    pub recording_limit_bytes: u64,
    /// The PBX's click-to-call endpoint (`http://host:port/path`, plain HTTP on the LAN);
    /// empty: click-to-call is off.
    #[serde(default)]
    pub click_to_call_url: String,
    /// Sent as `Authorization: Bearer …` to the click-to-call endpoint; empty: none.
    #[serde(default)]
    pub click_to_call_token: String,
    /// `host:port` pairs the server may fetch recordings from (plain http); empty: none.
    #[serde(default)]
    pub recording_fetch_hosts: Vec<String>,
}

/// Document custody (权证) and the blob store (docs/documents.md).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DocumentsConfig {
    /// A document lent out longer than this many days is on the overdue list.
    pub overdue_days: u32,
    /// Largest scan or photo accepted, bytes.
    pub upload_limit_bytes: u64,
}

/// The lead-vendor duplicate check and the public application forms (docs/leads.md).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LeadsConfig {
    /// `POST /leads/check` requests per minute per API token (or per user in the browser).
    pub check_requests_per_minute: u32,
    /// Numbers checked per day (Asia/Shanghai) per API token (or per user).
    pub check_numbers_per_day: u32,
    /// Application form submissions per hour from one address (all forms together).
    pub apply_per_address_per_hour: u32,
    /// Application form submissions per day with one phone number.
    pub apply_per_phone_per_day: u32,
    /// Largest submission body, bytes.
    pub apply_body_limit_bytes: u64,
}

/// Contracts and signing links (docs/contracts.md).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContractsConfig {
    /// Hours a signing link stays valid.
    pub link_hours: u32,
    /// The firm as contracts name it (placeholders `firm.name`, `firm.address`, `firm.phone`).
    pub firm_name: String,
    pub firm_address: String,
    pub firm_phone: String,
}

/// The comprehensive financing cost (综合融资成本) limits of the firm (docs/loans.md).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoansConfig {
    /// A deal whose annualised comprehensive cost is above this (basis points) is flagged.
    pub cost_warn_bp: i64,
    /// Above this the deal is over the firm's cap (the judicial red line is 36%).
    pub cost_cap_bp: i64,
}

/// `GET /metrics` (see `http::metrics`): off while both are empty.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// Bearer token a scraper sends; empty: no token (then only `listen` can serve metrics).
    pub token: String,
    /// A second, metrics-only listen address; empty: none.
    pub listen: String,
}

impl MetricsConfig {
    /// Whether the main listener answers `/metrics` (only with a token: the main listener is
    /// reachable by every client of the CRM).
    pub fn on_main_listener(&self) -> bool {
        !self.token.is_empty()
    }
}

/// The redb database file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// Memory for cached database pages, MiB (redb's own default is 1 GiB).
    pub cache_mb: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    pub listen: String,
    pub public_url: String,
    pub body_limit_bytes: u64,
    pub import_limit_bytes: u64,
    pub trusted_proxies: Vec<String>,
    pub secure_cookie: bool,
    pub request_timeout_secs: u64,
    /// Customer searches and list pages running at once; 0: two per core
    /// ([`ServerConfig::search_slots`]).
    pub search_concurrency: u32,
}

impl ServerConfig {
    /// How many customer searches and list pages run at once: `search_concurrency`, or two
    /// per CPU core when it is 0 (one per core gave ×0.65–0.84 the throughput of the heavy
    /// classes at 10M, two per core the same as no limit; docs/benchmarks.md, "Searches in
    /// turn").
    pub fn search_slots(&self) -> usize {
        match self.search_concurrency {
            0 => 2 * std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n as usize,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionConfig {
    pub idle_minutes: u64,
    pub absolute_hours: u64,
    /// Lifetime of an API token created without `expires_in_days`.
    pub token_default_days: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    pub level: String,
    /// `text` (human-readable lines) or `json` (one JSON object per line, for log collectors).
    pub format: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomersConfig {
    /// `refuse` or `flag`.
    pub on_duplicate: String,
    /// Days a deleted customer stays in the recycle bin (restorable) before it is purged.
    pub recycle_days: u32,
    /// Days an import's rejected-row file (its error report) is kept after the import ends.
    pub import_rejected_days: u32,
    /// Lookups by a full phone or ID number (or an ID's last six digits) a user may make per
    /// minute and per 24 hours: the duplicate check, search, the list's `q`.
    pub number_lookups_per_minute: u32,
    pub number_lookups_per_day: u32,
}

/// Scheduled backups (see `jobs::backup` and docs/backup.md).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackupConfig {
    pub enabled: bool,
    pub dir: String,
    pub time: String,
    pub keep_daily: u32,
    pub keep_weekly: u32,
    pub recipients: Vec<String>,
    pub recipients_file: String,
    pub passphrase_file: String,
    pub post_command: String,
}

/// Public pools (see `jobs::pool` and `service::pools`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoolConfig {
    /// Minutes between recall sweeps.
    pub sweep_interval_minutes: u64,
    /// Default mode of automatic assignment.
    pub assign_mode: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} is not valid TOML: {message}")]
    Syntax { path: String, message: String },
    #[error("configuration key {key}: {message}")]
    Value { key: String, message: String },
}

/// The effective configuration and what was noticed while building it.
#[derive(Debug)]
pub struct Loaded {
    pub config: Config,
    pub warnings: Vec<String>,
}

impl Config {
    /// Only the embedded defaults; what tests and an empty data directory start from.
    pub fn defaults() -> Result<Config, ConfigError> {
        Ok(Self::load(None, std::iter::empty(), &[])?.config)
    }

    /// Builds the configuration from every layer. `env` is passed in (not read here) so tests
    /// control it; `flags` are `("section.key", "value")` pairs from the command line.
    pub fn load(
        data_dir: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
        flags: &[(&str, String)],
    ) -> Result<Loaded, ConfigError> {
        let mut warnings = Vec::new();
        let mut merged = parse(DEFAULTS, "embedded defaults")?;
        let known = known_keys(&merged);

        let env: Vec<(String, String)> = env
            .into_iter()
            .filter(|(k, _)| k.starts_with("ZHUDAI_"))
            .collect();
        let explicit = env
            .iter()
            .find(|(k, v)| k == CONFIG_ENV && !v.is_empty())
            .map(|(_, v)| std::path::PathBuf::from(v));
        let file = explicit
            .clone()
            .or_else(|| data_dir.map(|d| d.join("config.toml")));
        if let Some(path) = file {
            match std::fs::read_to_string(&path) {
                Ok(text) => {
                    let file = parse(&text, &path.display().to_string())?;
                    for (key, value) in flatten(&file) {
                        if known.contains_key(&key) {
                            set(&mut merged, &key, value);
                        } else {
                            warnings
                                .push(format!("{}: unknown key `{key}` ignored", path.display()));
                        }
                    }
                }
                // Only the data directory's file is optional; one named by ZHUDAI_CONFIG
                // must be there.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound && explicit.is_none() => {}
                Err(source) => {
                    return Err(ConfigError::Read {
                        path: path.display().to_string(),
                        source,
                    });
                }
            }
        }

        let mut env = env;
        env.sort();
        for (name, raw) in env {
            if RESERVED_ENV.contains(&name.as_str()) {
                continue;
            }
            match known.iter().find(|(key, _)| env_name(key) == name) {
                Some((key, default)) => {
                    let value = coerce(key, default, &raw)?;
                    set(&mut merged, key, value);
                }
                None => warnings.push(format!("unknown environment variable {name} ignored")),
            }
        }

        for (key, raw) in flags {
            let default = known.get(*key).ok_or_else(|| ConfigError::Value {
                key: (*key).to_string(),
                message: "not a configuration key".into(),
            })?;
            let value = coerce(key, default, raw)?;
            set(&mut merged, key, value);
        }

        let config: Config =
            toml::Value::Table(merged)
                .try_into()
                .map_err(|e: toml::de::Error| ConfigError::Value {
                    key: "(configuration)".into(),
                    message: e.to_string(),
                })?;
        config.validate()?;
        if let Some(data) = data_dir {
            config.validate_against(data)?;
        }
        Ok(Loaded { config, warnings })
    }

    /// Settings that depend on where the data directory is: `backup.dir` may not be the data
    /// directory or inside it (relative paths are taken from the data directory).
    fn validate_against(&self, data_dir: &Path) -> Result<(), ConfigError> {
        let dir = self.backup.dir.trim();
        if dir.is_empty() {
            return Ok(());
        }
        let dir = Path::new(dir);
        let dir = if dir.is_absolute() {
            dir.to_path_buf()
        } else {
            data_dir.join(dir)
        };
        if crate::jobs::backup::dir_in_data(&dir, data_dir) {
            return Err(ConfigError::Value {
                key: "backup.dir".into(),
                message: crate::jobs::backup::DIR_IN_DATA_REASON.into(),
            });
        }
        Ok(())
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let bad = |key: &str, message: &str| ConfigError::Value {
            key: key.into(),
            message: message.into(),
        };
        if self.server.listen.parse::<std::net::SocketAddr>().is_err() {
            return Err(bad(
                "server.listen",
                "must be an address and port such as 127.0.0.1:8080",
            ));
        }
        for entry in &self.server.trusted_proxies {
            proxy_net(entry).map_err(|m| bad("server.trusted_proxies", &m))?;
        }
        if self.server.search_concurrency > 1024 {
            return Err(bad(
                "server.search_concurrency",
                "must be between 0 (two per core) and 1024",
            ));
        }
        if self.server.body_limit_bytes < 1024 {
            return Err(bad("server.body_limit_bytes", "must be at least 1024"));
        }
        if !["refuse", "flag"].contains(&self.customers.on_duplicate.as_str()) {
            return Err(bad("customers.on_duplicate", "must be refuse or flag"));
        }
        if self.customers.recycle_days == 0 {
            return Err(bad("customers.recycle_days", "must be at least 1"));
        }
        if self.customers.import_rejected_days == 0 {
            return Err(bad("customers.import_rejected_days", "must be at least 1"));
        }
        if self.customers.number_lookups_per_minute == 0
            || self.customers.number_lookups_per_day < self.customers.number_lookups_per_minute
        {
            return Err(bad(
                "customers.number_lookups_per_day",
                "both at least 1, and the day's at least the minute's",
            ));
        }
        if self.session.idle_minutes == 0 || self.session.absolute_hours == 0 {
            return Err(bad("session", "timeouts must be greater than zero"));
        }
        if !(1..=3650).contains(&self.session.token_default_days) {
            return Err(bad(
                "session.token_default_days",
                "must be between 1 and 3650",
            ));
        }
        if crate::jobs::schedule::parse_time_of_day(&self.backup.time).is_none() {
            return Err(bad("backup.time", "must be a time of day such as 02:30"));
        }
        if !["text", "json"].contains(&self.log.format.as_str()) {
            return Err(bad("log.format", "must be text or json"));
        }
        if !self.metrics.listen.is_empty()
            && self.metrics.listen.parse::<std::net::SocketAddr>().is_err()
        {
            return Err(bad(
                "metrics.listen",
                "must be empty or an address and port such as 127.0.0.1:9464",
            ));
        }
        if !self.metrics.token.is_empty() && self.metrics.token.trim().len() < 16 {
            return Err(bad(
                "metrics.token",
                "must be at least 16 characters (e.g. `openssl rand -hex 32`)",
            ));
        }
        if self.reports.max_operations < 1_000_000 {
            return Err(bad("reports.max_operations", "must be at least 1000000"));
        }
        if !(200..=120_000).contains(&self.reports.max_ms) {
            return Err(bad("reports.max_ms", "must be between 200 and 120000"));
        }
        if self.pool.sweep_interval_minutes == 0 {
            return Err(bad("pool.sweep_interval_minutes", "must be at least 1"));
        }
        if !(1..=3650).contains(&self.documents.overdue_days) {
            return Err(bad("documents.overdue_days", "must be 1 to 3650 days"));
        }
        if !(1024..=4 << 30).contains(&self.documents.upload_limit_bytes) {
            return Err(bad(
                "documents.upload_limit_bytes",
                "must be 1 KiB to 4 GiB",
            ));
        }
        if !(1..=24 * 30).contains(&self.contracts.link_hours) {
            return Err(bad("contracts.link_hours", "must be 1 to 720 hours"));
        }
        if !(1024..=4 << 30).contains(&self.calls.recording_limit_bytes) {
            return Err(bad("calls.recording_limit_bytes", "must be 1 KiB to 4 GiB"));
        }
        let url = self.calls.click_to_call_url.trim();
        if !url.is_empty() && !url.starts_with("http://") {
            return Err(bad(
                "calls.click_to_call_url",
                "must be empty or an http:// URL (for https, put a local proxy in front)",
            ));
        }
        if !(1..=crate::domain::loan::MAX_RATE_BP).contains(&self.loans.cost_cap_bp) {
            return Err(bad("loans.cost_cap_bp", "must be 1 to 100000 basis points"));
        }
        if !(1..=self.loans.cost_cap_bp).contains(&self.loans.cost_warn_bp) {
            return Err(bad(
                "loans.cost_warn_bp",
                "must be positive and not above loans.cost_cap_bp",
            ));
        }
        if !crate::service::pools::assign::MODES.contains(&self.pool.assign_mode.as_str()) {
            return Err(bad(
                "pool.assign_mode",
                "must be round_robin, weighted, least_loaded or by_city",
            ));
        }
        Ok(())
    }

    /// The configuration as TOML with secret values replaced, for `serve --print-config`.
    pub fn to_display_toml(&self) -> String {
        let mut value =
            toml::Value::try_from(self).unwrap_or(toml::Value::Table(Default::default()));
        hide_secrets(&mut value);
        toml::to_string_pretty(&value).unwrap_or_default()
    }

    /// The base URL printed in links.
    pub fn public_url(&self) -> String {
        if self.server.public_url.is_empty() {
            format!("http://{}", self.server.listen)
        } else {
            self.server.public_url.trim_end_matches('/').to_string()
        }
    }
}

/// The environment variable that sets `section.key`.
pub fn env_name(key: &str) -> String {
    format!("ZHUDAI_{}", key.replace('.', "_").to_uppercase())
}

fn parse(text: &str, origin: &str) -> Result<toml::Table, ConfigError> {
    text.parse::<toml::Table>()
        .map_err(|e| ConfigError::Syntax {
            path: origin.into(),
            message: e.to_string(),
        })
}

fn known_keys(defaults: &toml::Table) -> BTreeMap<String, toml::Value> {
    flatten(defaults).into_iter().collect()
}

fn flatten(table: &toml::Table) -> Vec<(String, toml::Value)> {
    let mut out = Vec::new();
    for (section, value) in table {
        match value {
            toml::Value::Table(inner) => {
                for (key, v) in inner {
                    out.push((format!("{section}.{key}"), v.clone()));
                }
            }
            other => out.push((section.clone(), other.clone())),
        }
    }
    out
}

fn set(table: &mut toml::Table, key: &str, value: toml::Value) {
    match key.split_once('.') {
        Some((section, name)) => {
            let entry = table
                .entry(section.to_string())
                .or_insert_with(|| toml::Value::Table(Default::default()));
            if let toml::Value::Table(inner) = entry {
                inner.insert(name.to_string(), value);
            }
        }
        None => {
            table.insert(key.to_string(), value);
        }
    }
}

/// Parses a string from the environment or a flag as the type of the key's default.
fn coerce(key: &str, default: &toml::Value, raw: &str) -> Result<toml::Value, ConfigError> {
    let bad = |what: &str| ConfigError::Value {
        key: key.into(),
        message: format!("`{raw}` is not {what}"),
    };
    Ok(match default {
        toml::Value::Integer(_) => {
            toml::Value::Integer(raw.trim().parse().map_err(|_| bad("an integer"))?)
        }
        toml::Value::Boolean(_) => match raw.trim() {
            "true" | "1" | "yes" | "on" => toml::Value::Boolean(true),
            "false" | "0" | "no" | "off" => toml::Value::Boolean(false),
            _ => return Err(bad("true or false")),
        },
        // Lists from the environment: comma-separated.
        toml::Value::Array(_) => toml::Value::Array(
            raw.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| toml::Value::String(s.to_string()))
                .collect(),
        ),
        _ => toml::Value::String(raw.to_string()),
    })
}

/// Names that hold secrets; their values never reach a terminal or a log.
fn is_secret(name: &str) -> bool {
    ["password", "secret", "token", "passphrase", "key"]
        .iter()
        .any(|s| name.ends_with(s))
}

fn hide_secrets(value: &mut toml::Value) {
    if let toml::Value::Table(table) = value {
        for (name, v) in table.iter_mut() {
            if let toml::Value::Table(_) = v {
                hide_secrets(v);
            } else if is_secret(name) && v.as_str().is_none_or(|s| !s.is_empty()) {
                *v = toml::Value::String("(hidden)".into());
            }
        }
    }
}

/// Reads a `server.trusted_proxies` entry: an IP address or a CIDR range.
pub fn proxy_net(entry: &str) -> Result<ProxyNet, String> {
    let (addr, prefix) = match entry.trim().split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (entry.trim(), None),
    };
    let addr: std::net::IpAddr = addr
        .parse()
        .map_err(|_| format!("`{entry}` is not an IP address or CIDR range such as 10.0.0.0/8"))?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let prefix = match prefix {
        None => max,
        Some(p) => match p.parse::<u8>() {
            Ok(n) if n <= max => n,
            _ => return Err(format!("`{entry}`: the prefix length must be 0 to {max}")),
        },
    };
    Ok(ProxyNet { addr, prefix })
}

/// A trusted proxy entry: an address with a prefix length (a bare address is a /32 or /128).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProxyNet {
    addr: std::net::IpAddr,
    prefix: u8,
}

impl ProxyNet {
    pub fn contains(&self, ip: &std::net::IpAddr) -> bool {
        match (self.addr, ip) {
            (std::net::IpAddr::V4(net), std::net::IpAddr::V4(ip)) => {
                prefix_eq(&net.octets(), &ip.octets(), self.prefix)
            }
            (std::net::IpAddr::V6(net), std::net::IpAddr::V6(ip)) => {
                prefix_eq(&net.octets(), &ip.octets(), self.prefix)
            }
            _ => false,
        }
    }
}

/// Whether the first `bits` bits of `a` and `b` agree.
fn prefix_eq(a: &[u8], b: &[u8], bits: u8) -> bool {
    let whole = usize::from(bits / 8);
    let rest = bits % 8;
    if a[..whole] != b[..whole] {
        return false;
    }
    if rest == 0 {
        return true;
    }
    let mask = 0xffu8 << (8 - rest);
    (a[whole] & mask) == (b[whole] & mask)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn trusted_proxies_take_addresses_and_cidr_ranges() {
        let ip = |s: &str| s.parse::<std::net::IpAddr>().unwrap();
        let net = |s: &str| proxy_net(s).unwrap();
        assert!(net("10.0.0.0/8").contains(&ip("10.255.3.4")));
        assert!(!net("10.0.0.0/8").contains(&ip("11.0.0.1")));
        assert!(net("172.16.0.0/12").contains(&ip("172.31.255.255")));
        assert!(!net("172.16.0.0/12").contains(&ip("172.32.0.0")));
        assert!(net("192.168.1.7").contains(&ip("192.168.1.7")));
        assert!(!net("192.168.1.7").contains(&ip("192.168.1.8")));
        assert!(net("0.0.0.0/0").contains(&ip("8.8.8.8")));
        assert!(net("fd00::/8").contains(&ip("fd12:3456::1")));
        assert!(!net("fd00::/8").contains(&ip("fe80::1")));
        assert!(
            !net("10.0.0.0/8").contains(&ip("::ffff:10.0.0.1")),
            "families never mix"
        );
        for bad in [
            "10.0.0.0/33",
            "fd00::/129",
            "10.0.0/8",
            "proxy.local",
            "10.0.0.0/x",
        ] {
            assert!(proxy_net(bad).is_err(), "{bad}");
        }
        let e = Config::load(
            None,
            env(&[("ZHUDAI_SERVER_TRUSTED_PROXIES", "10.0.0.0/8,10.0.0.0/40")]),
            &[],
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("server.trusted_proxies") && e.contains("10.0.0.0/40"),
            "{e}"
        );
    }

    #[test]
    fn zhudai_config_names_the_file_and_it_must_exist() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("config.toml"), "[log]\nlevel = \"debug\"\n").unwrap();
        let etc = dir.path().join("etc.toml");
        std::fs::write(&etc, "[log]\nlevel = \"warn\"\n").unwrap();
        let etc_env = env(&[("ZHUDAI_CONFIG", etc.to_str().unwrap())]);
        let c = Config::load(Some(dir.path()), etc_env, &[]).unwrap();
        assert_eq!(
            c.config.log.level, "warn",
            "the named file, not data/config.toml"
        );
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
        let missing = dir.path().join("nope.toml");
        let err = Config::load(
            Some(dir.path()),
            env(&[("ZHUDAI_CONFIG", missing.to_str().unwrap())]),
            &[],
        )
        .unwrap_err();
        assert!(err.to_string().contains("nope.toml"), "{err}");
    }

    #[test]
    fn metrics_settings_are_checked() {
        let token = env(&[("ZHUDAI_METRICS_TOKEN", "short")]);
        let err = Config::load(None, token, &[]).unwrap_err();
        assert!(err.to_string().contains("metrics.token"), "{err}");
        let listen = env(&[("ZHUDAI_METRICS_LISTEN", "localhost")]);
        let err = Config::load(None, listen, &[]).unwrap_err();
        assert!(err.to_string().contains("metrics.listen"), "{err}");
        let c = Config::defaults().unwrap();
        assert!(!c.metrics.on_main_listener(), "off by default");
        let shown = Config::load(
            None,
            env(&[("ZHUDAI_METRICS_TOKEN", "0123456789abcdef0123")]),
            &[],
        )
        .unwrap()
        .config
        .to_display_toml();
        assert!(!shown.contains("0123456789abcdef0123"), "{shown}");
    }

    #[test]
    fn defaults_parse() {
        let c = Config::defaults().unwrap();
        assert_eq!(c.server.listen, "127.0.0.1:8080");
        assert_eq!(c.session.idle_minutes, 30);
    }

    #[test]
    fn layers_apply_in_order() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("config.toml"),
            "[server]\nlisten = \"0.0.0.0:9000\"\nsecure_cookie = true\n[session]\nidle_minutes = 5\nbogus = 1\n",
        )
        .unwrap();
        let loaded = Config::load(
            Some(dir.path()),
            env(&[
                ("ZHUDAI_SESSION_IDLE_MINUTES", "7"),
                ("ZHUDAI_NOPE", "x"),
                ("ZHUDAI_DATA", "/x"),
                ("PATH", "/bin"),
            ]),
            &[("server.listen", "127.0.0.1:1234".into())],
        )
        .unwrap();
        let c = loaded.config;
        assert_eq!(c.server.listen, "127.0.0.1:1234", "flag beats file");
        assert!(c.server.secure_cookie, "file beats default");
        assert_eq!(c.session.idle_minutes, 7, "env beats file");
        assert_eq!(loaded.warnings.len(), 2, "{:?}", loaded.warnings);
        assert!(loaded.warnings.iter().any(|w| w.contains("session.bogus")));
        assert!(loaded.warnings.iter().any(|w| w.contains("ZHUDAI_NOPE")));
    }

    #[test]
    fn bad_values_name_the_key() {
        let err = Config::load(None, env(&[("ZHUDAI_SESSION_IDLE_MINUTES", "soon")]), &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("session.idle_minutes"), "{err}");
        let err = Config::load(None, env(&[("ZHUDAI_SERVER_LISTEN", "nowhere")]), &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("server.listen"), "{err}");
    }

    #[test]
    fn search_concurrency_is_two_per_core_by_default_and_bounded() {
        let c = Config::defaults().unwrap();
        assert_eq!(c.server.search_concurrency, 0);
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        assert_eq!(c.server.search_slots(), 2 * cores);
        let c = Config::load(None, env(&[("ZHUDAI_SERVER_SEARCH_CONCURRENCY", "3")]), &[])
            .unwrap()
            .config;
        assert_eq!(c.server.search_slots(), 3);
        let load =
            |n: &str| Config::load(None, env(&[("ZHUDAI_SERVER_SEARCH_CONCURRENCY", n)]), &[]);
        assert_eq!(load("1024").unwrap().config.server.search_slots(), 1024);
        let err = load("1025").unwrap_err().to_string();
        assert!(err.contains("server.search_concurrency"), "{err}");
    }

    #[test]
    fn secrets_are_hidden() {
        let mut v: toml::Value = "[smtp]\npassword = \"hunter2\"\nhost = \"mail\"\n[a]\napi_token = \"t\"\nempty_secret = \"\"\n"
            .parse::<toml::Table>()
            .map(toml::Value::Table)
            .unwrap();
        hide_secrets(&mut v);
        let s = toml::to_string(&v).unwrap();
        assert!(!s.contains("hunter2") && !s.contains("\"t\""), "{s}");
        assert!(s.contains("mail"));
        assert!(
            s.contains("empty_secret = \"\""),
            "empty secret shown as empty: {s}"
        );
    }
}
