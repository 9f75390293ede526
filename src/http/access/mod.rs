//! Sign-in, sessions and API tokens, first-run setup, the audit log.

pub(super) mod audit;
pub(super) mod auth;
pub(super) mod setup;
pub(super) mod tokens;
