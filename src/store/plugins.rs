//! Saved versions of plugin sources (table `plugin_versions`, key `<name>/<version ulid>`).

use redb::{ReadTransaction, WriteTransaction};
use serde::{Deserialize, Serialize};

use super::org::decode_one;
use super::{Result, codec, tables};

const T: &str = "plugin_versions";

/// One saved version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PluginVersion {
    pub source: String,
    /// User id, or "operator".
    pub author: String,
    pub at: chrono::DateTime<chrono::Utc>,
    #[serde(default)]
    pub note: Option<String>,
}

pub fn put(tx: &WriteTransaction, name: &str, id: &str, v: &PluginVersion) -> Result<()> {
    let key = format!("{name}/{id}");
    tx.open_table(tables::PLUGIN_VERSIONS)?
        .insert(key.as_str(), codec::encode(v)?.as_slice())?;
    Ok(())
}

pub fn get(tx: &ReadTransaction, name: &str, id: &str) -> Result<Option<PluginVersion>> {
    decode_one(
        &tx.open_table(tables::PLUGIN_VERSIONS)?,
        &format!("{name}/{id}"),
        T,
    )
}

/// Versions of one plugin, newest first (ulids sort by time).
pub fn list(tx: &ReadTransaction, name: &str) -> Result<Vec<(String, PluginVersion)>> {
    let table = tx.open_table(tables::PLUGIN_VERSIONS)?;
    let prefix = format!("{name}/");
    let mut out = Vec::new();
    for row in table.range(prefix.as_str()..)? {
        let (k, v) = row?;
        let Some(id) = k.value().strip_prefix(prefix.as_str()) else {
            break;
        };
        out.push((id.to_string(), codec::decode(T, v.value())?));
    }
    out.reverse();
    Ok(out)
}

/// Every plugin's versions, newest first: name → [(version id, source)].
pub fn all(
    tx: &ReadTransaction,
) -> Result<std::collections::BTreeMap<String, Vec<(String, String)>>> {
    let table = tx.open_table(tables::PLUGIN_VERSIONS)?;
    let mut out: std::collections::BTreeMap<String, Vec<(String, String)>> = Default::default();
    for row in table.range::<&str>(..)? {
        let (k, v) = row?;
        let Some((name, id)) = k.value().split_once('/') else {
            continue;
        };
        let version: PluginVersion = codec::decode(T, v.value())?;
        out.entry(name.to_string())
            .or_default()
            .push((id.to_string(), version.source));
    }
    for versions in out.values_mut() {
        versions.reverse();
    }
    Ok(out)
}
