//! A firm's customer settings and users' saved views: custom field definitions, tag groups
//! and `user_prefs`. Small tables, read whole.

use redb::{ReadTransaction, ReadableTable, TableDefinition, TableHandle, WriteTransaction};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::org::{decode_all, decode_one};
use super::{Result, codec, tables};

type Table = TableDefinition<'static, &'static str, &'static [u8]>;

fn name(t: Table) -> &'static str {
    if t.name() == tables::CUSTOM_FIELDS.name() {
        "custom_fields"
    } else if t.name() == tables::TAG_GROUPS.name() {
        "tag_groups"
    } else {
        "user_prefs"
    }
}

pub fn all<T: DeserializeOwned>(tx: &ReadTransaction, t: Table) -> Result<Vec<T>> {
    decode_all(&tx.open_table(t)?, name(t))
}

pub fn all_w<T: DeserializeOwned>(tx: &WriteTransaction, t: Table) -> Result<Vec<T>> {
    decode_all(&tx.open_table(t)?, name(t))
}

pub fn get_w<T: DeserializeOwned>(tx: &WriteTransaction, t: Table, key: &str) -> Result<Option<T>> {
    decode_one(&tx.open_table(t)?, key, name(t))
}

pub fn put<T: Serialize>(tx: &WriteTransaction, t: Table, key: &str, v: &T) -> Result<()> {
    tx.open_table(t)?
        .insert(key, codec::encode(v)?.as_slice())?;
    Ok(())
}

/// Removes `key`; whether it was there.
pub fn remove(tx: &WriteTransaction, t: Table, key: &str) -> Result<bool> {
    Ok(tx.open_table(t)?.remove(key)?.is_some())
}

/// Values whose key starts with `prefix`, in key order (`user_prefs` by `<user id>/view/`).
pub fn with_prefix<T: DeserializeOwned>(
    tx: &ReadTransaction,
    t: Table,
    prefix: &str,
) -> Result<Vec<T>> {
    let table = tx.open_table(t)?;
    let mut out = Vec::new();
    for row in table.range(prefix..)? {
        let (k, v) = row?;
        if !k.value().starts_with(prefix) {
            break;
        }
        out.push(codec::decode(name(t), v.value())?);
    }
    Ok(out)
}

/// How many keys start with `prefix` (write transaction).
pub fn count_prefix_w(tx: &WriteTransaction, t: Table, prefix: &str) -> Result<usize> {
    let table = tx.open_table(t)?;
    let mut n = 0;
    for row in table.range(prefix..)? {
        let (k, _) = row?;
        if !k.value().starts_with(prefix) {
            break;
        }
        n += 1;
    }
    Ok(n)
}
