//! Background jobs that `serve` runs besides the HTTP server: scheduled backups (more — pool
//! recall sweeps, reminders — join here). Each job takes its time from the app's clock, so
//! tests drive it by moving a manual clock and calling its `tick`.

pub mod backup;
pub mod schedule;
