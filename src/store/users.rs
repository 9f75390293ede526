//! Users table and its username index.

use redb::{ReadTransaction, ReadableTable, ReadableTableMetadata, WriteTransaction};

use super::{Error, Result, codec, tables};
use crate::domain::org::User;

const T: &str = "users";

pub fn get(tx: &ReadTransaction, id: &str) -> Result<Option<User>> {
    super::org::decode_one(&tx.open_table(tables::USERS)?, id, T)
}

/// [`get`] inside a write transaction.
pub fn get_w(tx: &WriteTransaction, id: &str) -> Result<Option<User>> {
    super::org::decode_one(&tx.open_table(tables::USERS)?, id, T)
}

pub fn find_by_username(tx: &ReadTransaction, username: &str) -> Result<Option<User>> {
    let index = tx.open_table(tables::USERS_BY_NAME)?;
    let id = match index.get(username.to_lowercase().as_str())? {
        Some(id) => id.value().to_string(),
        None => return Ok(None),
    };
    match get(tx, &id)? {
        Some(u) => Ok(Some(u)),
        None => Err(Error::Corrupt {
            table: "users_by_name",
            message: format!("{username} points at missing user {id}"),
        }),
    }
}

/// The same lookup inside a write transaction.
pub fn find_by_username_w(tx: &WriteTransaction, username: &str) -> Result<Option<User>> {
    let index = tx.open_table(tables::USERS_BY_NAME)?;
    let Some(id) = index
        .get(username.to_lowercase().as_str())?
        .map(|v| v.value().to_string())
    else {
        return Ok(None);
    };
    let table = tx.open_table(tables::USERS)?;
    let value = table.get(id.as_str())?.ok_or_else(|| Error::Corrupt {
        table: "users_by_name",
        message: format!("{username} points at missing user {id}"),
    })?;
    Ok(Some(codec::decode(T, value.value())?))
}

pub fn find_by_id_w(tx: &WriteTransaction, id: &str) -> Result<Option<User>> {
    super::org::decode_one(&tx.open_table(tables::USERS)?, id, T)
}

/// Every user, ordered by id (creation time).
pub fn all(tx: &ReadTransaction) -> Result<Vec<User>> {
    let table = tx.open_table(tables::USERS)?;
    let mut out = Vec::new();
    for row in table.iter()? {
        let (_, v) = row?;
        out.push(codec::decode(T, v.value())?);
    }
    Ok(out)
}

pub fn all_w(tx: &WriteTransaction) -> Result<Vec<User>> {
    crate::store::org::decode_all(&tx.open_table(tables::USERS)?, T)
}

/// Any active administrator? (Decides whether first-run setup is still open.)
pub fn any_active_admin_w(tx: &WriteTransaction) -> Result<bool> {
    let table = tx.open_table(tables::USERS)?;
    for row in table.iter()? {
        let (_, v) = row?;
        let u: User = codec::decode(T, v.value())?;
        if u.is_admin() && u.status == crate::domain::org::UserStatus::Active {
            return Ok(true);
        }
    }
    Ok(false)
}

pub fn count(tx: &ReadTransaction) -> Result<u64> {
    Ok(tx.open_table(tables::USERS)?.len()?)
}

/// Inserts a new user; `Conflict` when the username is taken (case-insensitively).
pub fn insert(tx: &super::WriteTransaction, user: &User) -> Result<()> {
    tx.note_auth_change();
    let mut index = tx.open_table(tables::USERS_BY_NAME)?;
    let key = user.username.to_lowercase();
    if index.get(key.as_str())?.is_some() {
        return Err(Error::Conflict(format!(
            "username {} is taken",
            user.username
        )));
    }
    index.insert(key.as_str(), user.id.as_str())?;
    tx.open_table(tables::USERS)?
        .insert(user.id.as_str(), codec::encode(user)?.as_slice())?;
    Ok(())
}

/// Rewrites an existing user (the username does not change here). A change of department
/// queues the user's customers for re-indexing in the same transaction (the search index
/// files each customer under its owner's department).
pub fn update(tx: &super::WriteTransaction, user: &User) -> Result<()> {
    tx.note_auth_change();
    let mut table = tx.open_table(tables::USERS)?;
    let before: User = match table.get(user.id.as_str())? {
        Some(v) => codec::decode(T, v.value())?,
        None => return Err(Error::NotFound),
    };
    table.insert(user.id.as_str(), codec::encode(user)?.as_slice())?;
    drop(table);
    if before.department_id != user.department_id {
        super::outbox::enqueue_owned_by(tx, &[user.id.as_str()])?;
    }
    Ok(())
}
