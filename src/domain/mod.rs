//! Types and rules of the business, no I/O.

pub mod org;
