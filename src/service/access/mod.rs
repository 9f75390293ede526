pub mod audit;
pub mod auth;
pub mod password;
pub mod scope;
pub mod setup;
pub mod throttle;
pub mod tokens;
