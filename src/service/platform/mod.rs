pub mod demo;
pub mod plugins;
pub mod rotate;
