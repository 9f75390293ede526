//! Plugins, backups, health.

pub(super) mod backup;
pub(super) mod health;
pub(super) mod plugins;
