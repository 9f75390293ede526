//! Every redb table, in one place, so a schema change is visible in one diff.
//! Keys are ULID strings unless noted; values are `codec`-encoded records.

use redb::TableDefinition;

/// `schema_version` and other single values.
pub const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
/// User id → `domain::org::User`.
pub const USERS: TableDefinition<&str, &[u8]> = TableDefinition::new("users");
/// Lower-cased username → user id (schema 2).
pub const USERS_BY_NAME: TableDefinition<&str, &str> = TableDefinition::new("users_by_name");
/// SHA-256 of a session token (hex) → `store::sessions::Session`.
pub const SESSIONS: TableDefinition<&str, &[u8]> = TableDefinition::new("sessions");
/// Single row `"setup"` → the pending first-run setup token (hash and expiry).
pub const SETUP: TableDefinition<&str, &[u8]> = TableDefinition::new("setup");
/// Sequence number → `store::audit::AuditEntry` (schema 3). Append-only, hash-chained.
pub const AUDIT: TableDefinition<u64, &[u8]> = TableDefinition::new("audit");
