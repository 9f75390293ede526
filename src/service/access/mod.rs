crate::service::use_cases!(
    access,
    "Signing in, sessions, API tokens, first-run setup and the audit log."
);
pub mod audit;
pub mod audit_names;
pub mod auth;
pub mod cache;
pub mod password;
pub mod scope;
pub mod setup;
pub mod throttle;
pub mod tokens;
