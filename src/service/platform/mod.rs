crate::service::use_cases!(platform, "Plugins, key rotation and demo data.");
pub mod demo;
pub mod plugins;
pub mod rotate;
