//! What authentication and scope computation read from the store, kept between requests.
//!
//! Every entry carries the store's [`crate::store::Store::auth_epoch`] read *before* the rows
//! were read, and is used only while the epoch is unchanged. The epoch moves on after every
//! commit that wrote sessions, API tokens, users, roles or departments (the store functions
//! that write those tables mark their transaction), so a logout, a revoked token, a disabled
//! user, a password reset or a role or department change is seen by the very next request.
//! Only the rows are cached: expiry (idle, absolute, token expiry) is still decided from them
//! at each request's own time.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;

use crate::domain::org::User;
use crate::domain::roles::Access;
use crate::store::sessions::Session;
use crate::store::tokens::ApiToken;

use super::scope::Scope;

/// Entries per map before it is emptied (a bound, not a tuning knob: a small office has tens
/// of sessions).
const CAPACITY: usize = 4096;

struct EpochMap<K, V> {
    entries: Mutex<HashMap<K, (u64, V)>>,
}

impl<K: Eq + Hash, V: Clone> EpochMap<K, V> {
    fn new() -> Self {
        EpochMap {
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn get<Q: Eq + Hash + ?Sized>(&self, key: &Q, epoch: u64) -> Option<V>
    where
        K: Borrow<Q>,
    {
        self.with(key, epoch, V::clone)
    }

    /// `f` of the entry, under the lock: what a request needs, without copying the rows.
    fn with<Q: Eq + Hash + ?Sized, R>(
        &self,
        key: &Q,
        epoch: u64,
        f: impl FnOnce(&V) -> R,
    ) -> Option<R>
    where
        K: Borrow<Q>,
    {
        let map = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        map.get(key).filter(|(e, _)| *e == epoch).map(|(_, v)| f(v))
    }

    fn put(&self, key: K, epoch: u64, value: V) {
        let mut map = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        // Entries of an older epoch can never be used again.
        if map.len() >= CAPACITY || map.values().next().is_some_and(|(e, _)| *e != epoch) {
            map.clear();
        }
        map.insert(key, (epoch, value));
    }
}

/// A session with its user and the user's access, as one read found them.
pub(crate) type SessionRows = (Session, User, Access);
/// An API token with its user and the user's access.
pub(crate) type TokenRows = (ApiToken, User, Access);

pub struct AuthCache {
    sessions: EpochMap<String, SessionRows>,
    tokens: EpochMap<String, TokenRows>,
    /// (user id, department, scope kind) → the scope.
    scopes: EpochMap<(String, Option<String>, crate::domain::roles::DataScope), Scope>,
}

impl Default for AuthCache {
    fn default() -> Self {
        AuthCache {
            sessions: EpochMap::new(),
            tokens: EpochMap::new(),
            scopes: EpochMap::new(),
        }
    }
}

impl AuthCache {
    pub(crate) fn session(&self, hash: &str, epoch: u64) -> Option<SessionRows> {
        self.sessions.get(hash, epoch)
    }

    /// `f` of the cached session rows, without copying them.
    pub(crate) fn with_session<R>(
        &self,
        hash: &str,
        epoch: u64,
        f: impl FnOnce(&SessionRows) -> R,
    ) -> Option<R> {
        self.sessions.with(hash, epoch, f)
    }

    pub(crate) fn put_session(&self, hash: &str, epoch: u64, rows: SessionRows) {
        self.sessions.put(hash.to_string(), epoch, rows);
    }

    pub(crate) fn token(&self, hash: &str, epoch: u64) -> Option<TokenRows> {
        self.tokens.get(hash, epoch)
    }

    /// `f` of the cached token rows, without copying them.
    pub(crate) fn with_token<R>(
        &self,
        hash: &str,
        epoch: u64,
        f: impl FnOnce(&TokenRows) -> R,
    ) -> Option<R> {
        self.tokens.with(hash, epoch, f)
    }

    pub(crate) fn put_token(&self, hash: &str, epoch: u64, rows: TokenRows) {
        self.tokens.put(hash.to_string(), epoch, rows);
    }

    pub(crate) fn scope(
        &self,
        key: &(String, Option<String>, crate::domain::roles::DataScope),
        epoch: u64,
    ) -> Option<Scope> {
        self.scopes.get(key, epoch)
    }

    pub(crate) fn put_scope(
        &self,
        key: (String, Option<String>, crate::domain::roles::DataScope),
        epoch: u64,
        scope: Scope,
    ) {
        self.scopes.put(key, epoch, scope);
    }
}
