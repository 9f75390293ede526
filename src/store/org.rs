//! Departments and roles. Both are small (tens of rows): read whole, changed one at a time.

use redb::{ReadTransaction, ReadableTable, WriteTransaction};
use serde::de::DeserializeOwned;

use super::{Result, codec, tables};
use crate::domain::org::Department;
use crate::domain::roles::{self, Role};

/// Every value of a small string-keyed table, decoded, in key order.
pub fn decode_all<T: DeserializeOwned>(
    table: &impl ReadableTable<&'static str, &'static [u8]>,
    name: &'static str,
) -> Result<Vec<T>> {
    let mut out = Vec::new();
    for row in table.iter()? {
        let (_, v) = row?;
        out.push(codec::decode(name, v.value())?);
    }
    Ok(out)
}

/// The decoded value under `key` of a string-keyed table, read or write transaction alike.
pub fn decode_one<T: DeserializeOwned>(
    table: &impl ReadableTable<&'static str, &'static [u8]>,
    key: &str,
    name: &'static str,
) -> Result<Option<T>> {
    let v = table.get(key)?;
    v.map(|v| codec::decode(name, v.value())).transpose()
}

pub fn departments(tx: &ReadTransaction) -> Result<Vec<Department>> {
    decode_all(&tx.open_table(tables::DEPARTMENTS)?, "departments")
}

pub fn departments_w(tx: &WriteTransaction) -> Result<Vec<Department>> {
    decode_all(&tx.open_table(tables::DEPARTMENTS)?, "departments")
}

/// Writes a department. Moving it under another parent queues the customers of everyone in
/// it and below it for re-indexing in the same transaction (the search index files each
/// customer under every department above its owner).
pub fn put_department(tx: &super::WriteTransaction, d: &Department) -> Result<()> {
    tx.note_auth_change();
    let all = departments_w(tx)?;
    let moved = all
        .iter()
        .find(|old| old.id == d.id)
        .is_some_and(|old| old.parent_id != d.parent_id);
    tx.open_table(tables::DEPARTMENTS)?
        .insert(d.id.as_str(), codec::encode(d)?.as_slice())?;
    if moved {
        let below = crate::domain::org::subtree(&all, &d.id);
        let users = super::users::all_w(tx)?;
        let owners: Vec<&str> = users
            .iter()
            .filter(|u| u.department_id.as_ref().is_some_and(|x| below.contains(x)))
            .map(|u| u.id.as_str())
            .collect();
        super::outbox::enqueue_owned_by(tx, &owners)?;
    }
    Ok(())
}

pub fn delete_department(tx: &super::WriteTransaction, id: &str) -> Result<bool> {
    tx.note_auth_change();
    Ok(tx.open_table(tables::DEPARTMENTS)?.remove(id)?.is_some())
}

pub fn roles(tx: &ReadTransaction) -> Result<Vec<Role>> {
    decode_roles(&tx.open_table(tables::ROLES)?)
}

pub fn roles_w(tx: &WriteTransaction) -> Result<Vec<Role>> {
    decode_roles(&tx.open_table(tables::ROLES)?)
}

/// Every role, in key order. A capability or field privilege this build does not know grants
/// nothing and is left out (`roles::drop_unknown_grants`); it is logged as a warning once per
/// role and string for the life of the process, not on every request.
fn decode_roles(table: &impl ReadableTable<&'static str, &'static [u8]>) -> Result<Vec<Role>> {
    static WARNED: std::sync::Mutex<std::collections::BTreeSet<(String, String)>> =
        std::sync::Mutex::new(std::collections::BTreeSet::new());
    let mut out = Vec::new();
    for row in table.iter()? {
        let (key, v) = row?;
        let mut json: serde_json::Value = codec::decode("roles", v.value())?;
        for grant in roles::drop_unknown_grants(&mut json) {
            let mut warned = WARNED.lock().unwrap_or_else(|p| p.into_inner());
            if warned.insert((key.value().to_string(), grant.clone())) {
                tracing::warn!(
                    role = key.value(),
                    grant = %grant,
                    "stored role names a capability this zhudai does not know; it grants nothing"
                );
            }
        }
        out.push(
            serde_json::from_value(json).map_err(|e| super::Error::Corrupt {
                table: "roles",
                message: e.to_string(),
            })?,
        );
    }
    Ok(out)
}

pub fn put_role(tx: &super::WriteTransaction, role: &Role) -> Result<()> {
    tx.note_auth_change();
    tx.open_table(tables::ROLES)?
        .insert(role.key.as_str(), codec::encode(role)?.as_slice())?;
    Ok(())
}

pub fn delete_role(tx: &super::WriteTransaction, key: &str) -> Result<bool> {
    tx.note_auth_change();
    Ok(tx.open_table(tables::ROLES)?.remove(key)?.is_some())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::domain::roles::{Capability, FieldPrivilege, builtin_roles};
    use crate::store::Store;

    #[test]
    fn a_stored_role_naming_an_unknown_capability_reads_without_it() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("zhudai.redb")).unwrap();
        let mut json = serde_json::to_value(
            builtin_roles()
                .into_iter()
                .find(|r| r.key == "sales")
                .unwrap(),
        )
        .unwrap();
        json["key"] = "from_newer".into();
        json["capabilities"] = serde_json::json!(["customer.read", "customer.teleport"]);
        json["field_privileges"] = serde_json::json!(["phone.view_full", "face.view_full"]);
        store
            .write(|tx| -> Result<()> {
                tx.open_table(tables::ROLES)?
                    .insert("from_newer", codec::encode(&json)?.as_slice())?;
                Ok(())
            })
            .unwrap();
        let roles = store.read(roles).unwrap();
        let r = roles.iter().find(|r| r.key == "from_newer").unwrap();
        assert_eq!(r.capabilities, [Capability::CustomerRead]);
        assert_eq!(r.field_privileges, [FieldPrivilege::PhoneViewFull]);
        assert!(
            roles.iter().any(|r| r.key == "admin"),
            "the others read too"
        );
        assert_eq!(store.write(|tx| roles_w(tx)).unwrap().len(), roles.len());
    }
}
